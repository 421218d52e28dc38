"""`digits predict` and `digits read`: the digit, or the number, in each image file.

Directories are walked; files stream through the Recognizer in batches with a progress bar on stderr,
so `--json` output on stdout stays one clean object per line. A bad file is reported in the output and
the run goes on; the exit status is 2 only when every input failed.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np
from PIL import Image
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from handwritten_digits.cli.app import err, out

if TYPE_CHECKING:  # the library loads lazily: `digits --help` stays fast
    from handwritten_digits.recognize import Prediction

BATCH = 64  # files per Recognizer call
READ_BATCH = 16  # ... for `read`, whose images each hold several digits
EXPLAIN_STEM_BYTES = 120  # of the input's name kept in an --explain file's name

_model = click.option("--model", "model_path", help="Run folder or .safetensors file (default: the "
                      "package's model, else the latest finished training run).")
_json = click.option("--json", "as_json", is_flag=True, help="One JSON object per input per line.")
_min_conf = click.option("--min-confidence", type=click.FloatRange(0.0, 1.0), default=None,
                         help="Abstain ('unreadable') below this calibrated confidence (default 0.5).")
_max_other = click.option("--max-not-digit", type=click.FloatRange(0.0, 1.0), default=None,
                          help="Abstain ('not_a_digit') when the model's gate rates 'not a digit' above "
                          "this (default: the model's own threshold; 1 turns the gate off, and with it the "
                          "flat-paper look for broad-marker strokes).")
_max_distance = click.option("--max-distance", type=click.FloatRange(0.0, min_open=True), default=None,
                             help="Abstain ('not_a_digit') when the features' squared distance to the "
                             "nearest digit class is above this (default: the model's own threshold).")


def expand(inputs: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Files as given, plus the image files under each directory (sorted, recursive); and what went
    wrong with directories: one message each for a folder that holds no image file or cannot be read,
    and for a pipe or a device in one (reading it could block or never end; one named is read)."""
    from handwritten_digits.preprocess import file_suffixes
    suffixes = file_suffixes()  # every format a file named alone is read in
    files: list[str] = []
    problems: list[str] = []
    for item in inputs:
        if os.path.isdir(item):
            found = []
            unreadable: list[OSError] = []
            for root, dirs, names in os.walk(item, onerror=unreadable.append):
                dirs.sort()
                found += [os.path.join(root, n) for n in sorted(names)
                          if Path(n).suffix.lower() in suffixes]
            special = [f for f in found if _special(f)]
            skipped = set(special)
            found = [f for f in found if f not in skipped]
            files += found
            problems += [f"{f}: error: not a regular file (a pipe or a device), not read" for f in special]
            problems += [f"{e.filename}: error: cannot read this directory ({e.strerror or e})"
                         for e in unreadable]
            if not found and not unreadable and not special:
                problems.append(f"{item}: error: no image files in this directory (looked for "
                                f"{', '.join(sorted(suffixes))})")
        else:
            files.append(item)
    return files, problems


def _special(path: str) -> bool:
    """A pipe, a device or a socket (one stat; a path that cannot be stat'ed is left to the reader)."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def batches(files: list[str], size: int = BATCH) -> Iterator[list[str]]:
    for start in range(0, len(files), size):
        yield files[start:start + size]


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=err, transient=True, disable=not err.is_terminal)


def _load(model_path: str | None, min_confidence: float | None, max_not_digit: float | None = None,
          max_distance: float | None = None):  # -> Recognizer
    from handwritten_digits.preprocess import pixel_limit, quiet_pillow
    from handwritten_digits.recognize import MIN_CONFIDENCE, Recognizer
    pixel_limit()  # a malformed DIGITS_MAX_PIXELS is one error, before any file
    quiet_pillow()
    rec = Recognizer.load(model_path, MIN_CONFIDENCE if min_confidence is None else min_confidence,
                          max_not_digit, max_distance)
    if max_distance is not None and "ood" not in rec.loaded.extra:
        err.print("warning: this model has no out-of-distribution score; --max-distance does nothing",
                  markup=False, highlight=False)
    return rec


def _explain(folder: Path, file: str, index: int, image: np.ndarray | None) -> None:
    """Save the model's input; a file that cannot be written is a warning, and the run goes on."""
    if image is None:
        return
    stem = Path(file).stem
    while len(os.fsencode(stem)) > EXPLAIN_STEM_BYTES:  # names may be 255 bytes; cut whole characters
        stem = stem[:-1]
    path = folder / f"{index:06d}-{stem}.png"
    try:
        Image.fromarray(image).save(path)
    except OSError as e:
        err.print(_line(f"{path}: warning: the model's input was not saved ({e.strerror or e})"),
                  markup=False, highlight=False)


def _line(text: str) -> str:
    """One line, whatever a file name holds: line breaks and control characters (a terminal's escape
    sequences) are shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@_model
@_json
@click.option("--explain", "explain_dir", type=click.Path(file_okay=False),
              help="Save the 28x28 image the model saw for each input into this folder.")
@_min_conf
@_max_other
@_max_distance
def predict(inputs: tuple[str, ...], model_path: str | None, as_json: bool, explain_dir: str | None,
            min_confidence: float | None, max_not_digit: float | None, max_distance: float | None) -> None:
    """The single digit in each image (FILE_OR_DIR...), or why there is none."""
    if explain_dir == "":
        raise click.BadParameter("give a folder name", param_hint="--explain")
    recognizer = _load(model_path, min_confidence, max_not_digit, max_distance)
    files, problems = expand(inputs)
    folder = Path(explain_dir) if explain_dir else None
    if folder:
        folder.mkdir(parents=True, exist_ok=True)

    def show(r: Prediction, seen: int) -> str:
        if folder:
            _explain(folder, r.file or "input", seen, r.model_input)
        return f"- ({r.reason})" if r.digit is None else f"{r.digit} ({r.confidence:.3f})"

    _stream("predict", files, problems, BATCH, recognizer.predict_many, as_json, show)


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@_model
@_json
@_min_conf
@_max_other
@_max_distance
def read(inputs: tuple[str, ...], model_path: str | None, as_json: bool, min_confidence: float | None,
         max_not_digit: float | None, max_distance: float | None) -> None:
    """The number (1-20 digits on one line) in each image (FILE_OR_DIR...), or why there is none."""
    recognizer = _load(model_path, min_confidence, max_not_digit, max_distance)
    files, problems = expand(inputs)
    _stream("read", files, problems, READ_BATCH, recognizer.read_many, as_json,
            lambda r, seen: r.text if r.text is not None else f"- ({r.reason})")


def _stream(name: str, files: list[str], problems: list[str], size: int,
            answer: Callable[[list[str]], list], as_json: bool, show: Callable[[Any, int], str]) -> None:
    """Answer `files` in batches of `size` under a progress bar: one JSON object or one line each
    (`show(result, index)`), errors on stderr; exit status 2 when every input (a file, or a directory
    problem from `expand`) failed."""
    for problem in problems:
        err.print(_line(problem), markup=False, highlight=False)
    failed, seen = len(problems), 0
    with _progress() as bar:
        task = bar.add_task(name, total=len(files))
        for chunk in batches(files, size):
            for r in answer(chunk):
                failed += r.reason == "error"
                bar.advance(task)
                text = show(r, seen)
                seen += 1
                if as_json:
                    print(json.dumps(r.to_dict()), flush=True)
                elif r.error:  # the library's messages begin with the file's name already
                    message = r.error.removeprefix(f"{r.file}: ")
                    err.print(_line(f"{r.file}: error: {message}"), markup=False, highlight=False)
                else:
                    out.print(_line(f"{r.file}: {text}"), markup=False, highlight=False)
    if failed == len(files) + len(problems):
        raise SystemExit(2)
