"""`digits predict`: the digit in each image file."""

from __future__ import annotations

import json

import click

from handwritten_digits.cli.app import err, out


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--model", "model_path", help="Run folder or .safetensors file (default: default).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input per line.")
def predict(files: tuple[str, ...], model_path: str | None, as_json: bool) -> None:
    """Predict the digit in each image file."""
    from handwritten_digits.recognize import Recognizer
    recognizer = Recognizer.load(model_path)
    results = recognizer.predict_many(list(files))
    for r in results:
        if as_json:
            print(json.dumps(r.to_dict()), flush=True)
        elif r.error:
            err.print(f"{r.file}: error: {r.error}")
        else:
            out.print(f"{r.file}: {r.digit} ({r.confidence:.3f})")
    if all(r.error for r in results):
        raise SystemExit(2)
