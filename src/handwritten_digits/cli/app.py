"""The `digits` command: parse, call the library, print. Nothing is computed here.

Every `DigitsError`, usage error and OSError about a path (an output folder that cannot be made, a
disk that is full) becomes one line on stderr and exit status 2; other exceptions are bugs and print a
traceback only with --debug (which shows one for those OSErrors too).
"""

from __future__ import annotations

import errno
import logging

import click
from rich.console import Console

from handwritten_digits.errors import DigitsError

# soft_wrap: a line goes out whole when stdout/stderr is a pipe or a file (rich wraps at 80 columns there)
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
_DEBUG = False


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors.")
@click.option("-v", "--verbose", is_flag=True, help="Log what the library is doing.")
@click.version_option(package_name="handwritten-digits")
def cli(debug: bool, verbose: bool) -> None:
    """Handwritten digit recognition: data, training, evaluation, reading, serving."""
    global _DEBUG
    _DEBUG = debug
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="digits", standalone_mode=False)
    except click.exceptions.Abort:
        err.print("aborted")
        raise SystemExit(130) from None
    except click.exceptions.NoArgsIsHelpError as e:  # `digits` alone: help, not an error
        click.echo(e.ctx.get_help())
        raise SystemExit(0) from None
    except click.ClickException as e:
        click.echo(f"error: {e.format_message()}", err=True)
        raise SystemExit(2) from None
    except DigitsError as e:
        click.echo(f"error: {e}", err=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        raise SystemExit(130) from None
    except Exception as e:
        if _DEBUG:
            raise
        if isinstance(e, OSError) and e.filename:  # a path the user named cannot be made or written
            click.echo(f"error: {e.filename}: {e.strerror or e}", err=True)
            raise SystemExit(2) from None
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):  # stdout to a full disk
            click.echo(f"error: the output could not be written ({e.strerror})", err=True)
            raise SystemExit(2) from None
        click.echo(f"internal error: {type(e).__name__}: {e} (run with --debug for details)",
                   err=True)
        raise SystemExit(1) from None
