"""`digits data download|info`: get, verify and inspect data sets."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from rich.table import Table

from handwritten_digits.cli.app import out


@click.group()
def data() -> None:
    """Download, verify and inspect data sets."""


@data.command("download")
@click.option("--dataset", default="mnist", show_default=True,
              type=click.Choice(["mnist", "fashion-mnist"]))
@click.option("--from", "from_dir", type=click.Path(), help="A folder holding the IDX files.")
@click.option("--verify", is_flag=True, help="Re-check the MD5s of files already cached.")
def data_download(dataset: str, from_dir: str | None, verify: bool) -> None:
    """Fetch the four IDX files into the cache and verify their MD5s."""
    from handwritten_digits.data.sources import ensure_dataset
    from handwritten_digits.errors import DataError
    if from_dir is not None and not Path(from_dir).is_dir():  # checked even when the cache is full
        raise DataError(f"{from_dir}: not a folder")
    logging.getLogger("handwritten_digits").setLevel(logging.INFO)
    folder = ensure_dataset(dataset, from_dir, verify_cache=verify)
    out.print(f"{dataset}: verified in {folder}")


@data.command("info")
def data_info() -> None:
    """Show what is cached: files, sizes and class counts."""
    from handwritten_digits.data.datasets import describe_cache
    rows = describe_cache()
    if not rows:
        out.print("nothing cached yet: run `digits data download`")
        return
    table = Table("dataset", "split", "images", "size", "class counts")
    for r in rows:
        table.add_row(r["dataset"], r["split"], str(r["images"]), r["size"],
                      " ".join(f"{k}:{v}" for k, v in r["class_counts"].items()))
    out.print(table)
