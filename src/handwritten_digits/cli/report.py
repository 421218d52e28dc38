"""`digits explore|report`: look at a data set, and at a finished training run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from handwritten_digits.cli.app import err, out


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar driven by the library's progress(stage, done, total) callback.

    Started on the first update, so that a command failing at once prints only its error line.
    """
    bar = Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=err, transient=True)
    task = bar.add_task("starting", total=None)

    def update(stage: str, done: int, total: int) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, description=stage, completed=done, total=total)

    try:
        yield update
    finally:
        if bar.live.is_started:
            bar.stop()


@click.command()
@click.option("--dataset", default="mnist", show_default=True,
              help="mnist, fashion-mnist, or a folder of IDX files.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Folder for the figures and page (default runs/explore-NAME).")
def explore(dataset: str, out_dir: str | None) -> None:
    """Look at a data set: sample grid, class balance, mean image per class, pixel histogram."""
    from handwritten_digits.report import write_explore
    with _progress() as progress:
        path = write_explore(dataset, out_dir, progress=progress)
    out.print(f"exploration: {path}")


@click.command()
@click.argument("run", type=click.Path())
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Folder for the report (default RUN/report).")
def report(run: str, out_dir: str | None) -> None:
    """Evaluation report of a finished run: curves, confusion, errors, calibration, timings."""
    from handwritten_digits.report import write_report
    with _progress() as progress:
        path = write_report(run, out_dir, progress=progress)
    out.print(f"report: {path}")
