#!/usr/bin/env bash
# Installs the Debian packages the tests use when they are missing and we are allowed to: chromium
# (browser tests), Fashion-MNIST (explore tests) and the handwriting fonts (real-world test images).
# Never fails the build: without them the tests that need them skip with a loud message.
set -u
want=(chromium dataset-fashion-mnist fonts-sjfonts fonts-rufscript fonts-ecolier-court fonts-cabinsketch
      fonts-lobster fonts-havana fonts-joscelyn fonts-levien-typoscript)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "!! missing ${missing[*]} and cannot apt-get here: the tests that need them will be SKIPPED" >&2
  exit 0
fi
echo "installing ${missing[*]} (Debian) for the tests..." >&2
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1 \
  || echo "!! apt-get install failed: browser, explore or font tests will be SKIPPED" >&2
exit 0
