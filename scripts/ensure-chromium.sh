#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests when it is missing and we are allowed to.
# Never fails the build: without chromium the browser tests skip with a loud message.
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "!! chromium missing and cannot apt-get it here: browser tests will be SKIPPED" >&2
  exit 0
fi
echo "installing chromium (Debian) for the browser tests..." >&2
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
  || echo "!! apt-get install chromium failed: browser tests will be SKIPPED" >&2
