"""Handwriting from a collection other than MNIST: the UCI optical-digits test set, 1,797 digits by 13
writers, which scikit-learn ships (`sklearn/datasets/data/digits.csv.gz`, a plain CSV).

Its digits were scanned from forms, normalised to 32x32 bitmaps and then counted into 4x4 blocks, so
every image is only 8x8 (levels 0-16): a blurred, blocky stand-in for real handwriting, harder to read
than the originals. Each is drawn as dark ink on a light page (upsampled 8x, bicubic, with a margin)
and read by the Recognizer, with its not-a-digit gate and without it. The even-numbered digits are a
tune half (to look at while developing), the odd-numbered ones a score half that only reports.

    python -m benchmarks.other_collection [--model M]
"""

from __future__ import annotations

import argparse
import collections
import gzip
import hashlib
import io

import numpy as np
from PIL import Image

from benchmarks.common import write_result
from handwritten_digits import Recognizer
from handwritten_digits.data.sources import cache_dir, wheel_member
from handwritten_digits.errors import DataError
from handwritten_digits.fileio import write_bytes

WHEEL = "scikit-learn==1.9.1"  # fetched with pip download, never installed
MEMBER = "sklearn/datasets/data/digits.csv.gz"
SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
UPSAMPLE, MARGIN = 8, 16


def load_optdigits() -> tuple[np.ndarray, np.ndarray]:
    """(N, 8, 8) uint8 images (0-16) and (N,) labels, from the cache or fetched and cached."""
    path = cache_dir() / "optdigits" / "digits.csv.gz"
    blob = path.read_bytes() if path.is_file() else b""
    if hashlib.sha256(blob).hexdigest() != SHA256:  # not cached, or a damaged copy: fetch it again
        blob = wheel_member(WHEEL, MEMBER)
        if hashlib.sha256(blob).hexdigest() != SHA256:
            raise DataError(f"{MEMBER} from {WHEEL}: unexpected SHA-256")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, blob)
    table = np.loadtxt(io.BytesIO(gzip.decompress(blob)), delimiter=",", dtype=np.int64)
    return table[:, :64].reshape(-1, 8, 8).astype(np.uint8), table[:, 64]


def render(block: np.ndarray) -> np.ndarray:
    """An 8x8 image (0-16, ink high) as dark ink on a white page, upsampled 8x."""
    side = 8 * UPSAMPLE
    ink = Image.fromarray((block.astype(np.float64) * 255 / 16).round().astype(np.uint8))
    page = Image.new("L", (side + 2 * MARGIN, side + 2 * MARGIN), 0)
    page.paste(ink.resize((side, side), Image.Resampling.BICUBIC), (MARGIN, MARGIN))
    return 255 - np.asarray(page)


def score(rec: Recognizer, images: list[np.ndarray], labels: np.ndarray) -> dict:
    answers = rec.predict_many(images)
    digits = np.array([-1 if a.digit is None else a.digit for a in answers])
    answered = digits >= 0
    pairs = zip(labels, digits, strict=True)
    wrong = collections.Counter(f"{t}->{'abstain' if d < 0 else d}" for t, d in pairs if t != d)
    return {"n": len(labels), "correct": float((digits == labels).mean()),
            "abstained": float((~answered).mean()),
            "right_when_answered": float((digits[answered] == labels[answered]).mean()) if answered.any()
            else 0.0,
            "reasons": dict(collections.Counter(a.reason for a in answers if a.reason)),
            "per_digit_correct": {str(k): float((digits[labels == k] == k).mean()) for k in range(10)},
            "top_errors": dict(wrong.most_common(10))}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="run folder or .safetensors (default: the package default)")
    ap.add_argument("--out", default="other_collection", help="result name under benchmarks/results")
    args = ap.parse_args(argv)
    blocks, labels = load_optdigits()
    images = [render(b) for b in blocks]
    recs = {"gated": Recognizer.load(args.model), "no_gate": Recognizer.load(args.model, max_not_digit=1.0)}
    out = {"data": f"UCI optical digits, test set ({WHEEL}: {MEMBER}), 8x8 upsampled {UPSAMPLE}x",
           "model": args.model or "default"}
    for half, start in (("tune", 0), ("score", 1)):
        for name, rec in recs.items():
            r = out[f"{half}/{name}"] = score(rec, images[start::2], labels[start::2])
            print(f"{half:5s} {name:8s} correct {r['correct']:.2%}  abstained {r['abstained']:.2%}  "
                  f"right when answered {r['right_when_answered']:.2%}")
    print(write_result(args.out, out))


if __name__ == "__main__":
    main()
