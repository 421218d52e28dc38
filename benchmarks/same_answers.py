"""Whether this checkout answers exactly as an earlier commit did, image by image.

A change made for speed must not change what is read. This runs `Recognizer.predict` on every image
under a folder, one image at a time as a served request and the latency benchmark do (and `read` on
those in a folder named `numbers`), once with the commit's package and once with this checkout's, and
compares, per image: the digit, the reason, the confidence (5 decimals), an MD5 of the 28x28 image the
model saw, and the reading (text, reason, each digit, confidence and box). Exit status 1 when any
image differs.

    python -m benchmarks.same_answers --against f0df250 benchmarks/data/realworld-tune
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import ROOT, export, package_env, write_result

SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
SHOWN = 20  # differing images listed in the result


def images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)


def record(folder: Path) -> dict[str, list]:
    """Image path (relative to `folder`) -> what the package on sys.path answers for it."""
    import torch

    from handwritten_digits.recognize import Recognizer
    torch.set_num_threads(1)
    recognizer = Recognizer.load()
    rows: dict[str, list] = {}
    for f in images(folder):
        p = recognizer.predict(str(f))
        seen = None if p.model_input is None else hashlib.md5(p.model_input.tobytes()).hexdigest()
        row = rows[f.relative_to(folder).as_posix()] = [p.digit, p.reason, round(p.confidence, 5), seen]
        if "numbers" in f.parts:
            r = recognizer.read(str(f))
            row.append([r.text, r.reason, [[d.digit, round(d.confidence, 4), d.box] for d in r.digits]])
    return rows


def differences(before: dict[str, list], after: dict[str, list]) -> list[dict]:
    """The images whose records differ (or that only one side has), in path order."""
    return [{"image": k, "before": before.get(k), "after": after.get(k)}
            for k in sorted(before.keys() | after.keys()) if before.get(k) != after.get(k)]


def _record_with(src: Path, folder: Path, out: Path, name: str) -> dict[str, list]:
    """The record of the package in `src` (ahead of the installed one on the path)."""
    command = [sys.executable, "-m", "benchmarks.same_answers", str(folder), "--record", str(out)]
    done = subprocess.run(command, env=package_env(src), cwd=ROOT, check=False)
    if done.returncode != 0:
        sys.exit(f"error: answering with {name} failed (exit status {done.returncode}; its error is above)")
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="images to answer (searched recursively)")
    ap.add_argument("--against", help="the earlier commit (any git revision)")
    ap.add_argument("--record", type=Path, metavar="OUT", help=argparse.SUPPRESS)  # one side, as JSON
    args = ap.parse_args(argv)
    if not args.folder.is_dir() or not images(args.folder):
        sys.exit(f"error: {args.folder}: no images there")
    if args.record:
        args.record.write_text(json.dumps(record(args.folder.resolve())))
        return
    if not args.against:
        sys.exit("error: --against REV is required")
    folder = args.folder.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        old = export(args.against, Path(tmp))
        before = _record_with(old, folder, Path(tmp) / "before.json", args.against)
        after = _record_with(ROOT / "src", folder, Path(tmp) / "after.json", "this checkout")
    diff = differences(before, after)
    result = {"against": args.against, "folder": str(args.folder), "images": len(after),
              "differ": len(diff), "examples": diff[:SHOWN]}
    print(json.dumps(result, indent=2))
    print(write_result("same_answers", result), file=sys.stderr)
    if diff:
        sys.exit(1)


if __name__ == "__main__":
    main()
