"""The `digits` command line: one module per group of commands, all thin doors into the library."""

from handwritten_digits.cli.app import cli, main
from handwritten_digits.cli.data import data
from handwritten_digits.cli.predict import predict, read
from handwritten_digits.cli.report import explore, report
from handwritten_digits.cli.serve import serve
from handwritten_digits.cli.train import calibrate, ensemble, evaluate, models_cmd, train

COMMANDS = (data, models_cmd, train, evaluate, calibrate, ensemble, predict, read, explore, report, serve)
for command in COMMANDS:
    cli.add_command(command)

__all__ = ["cli", "main"]
