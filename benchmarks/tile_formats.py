"""Digits stored the way other collections store them: small tiles that the digit fills.

MNIST keeps a digit in a 20x20 box inside a 28x28 frame; USPS keeps 16x16 grey tiles the digit fills,
Semeion 16x16 binary ones, NIST's forms 32x32 bitmaps. No such collection can be fetched here, so the
MNIST *test* digits are stored in those shapes (cropped to their ink, scaled to fill the tile with
the aspect ratio kept, centred) and read by the Recognizer: what the storage format alone costs.
Even-numbered test digits are a tune half, odd-numbered ones a score half that only reports.

    python -m benchmarks.tile_formats [--model M] [--n 2000]
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from benchmarks.common import write_result
from handwritten_digits import Recognizer
from handwritten_digits.data.datasets import load_split


def fill(tile: np.ndarray, side: int) -> np.ndarray:
    """An MNIST tile (light ink on black) cropped to its ink and scaled to fill a side x side tile."""
    ys, xs = np.nonzero(tile > 30)
    ink = tile[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = ink.shape
    k = side / max(h, w)
    small = np.asarray(Image.fromarray(ink).resize((max(1, round(w * k)), max(1, round(h * k))),
                                                   Image.Resampling.LANCZOS))
    out = np.zeros((side, side), np.uint8)
    y, x = (side - small.shape[0]) // 2, (side - small.shape[1]) // 2
    out[y:y + small.shape[0], x:x + small.shape[1]] = small
    return out


FORMATS = {
    "mnist 28x28 (reference)": lambda t: t,
    "16x16 grey, light on dark (USPS-like)": lambda t: fill(t, 16),
    "16x16 grey, dark on light": lambda t: 255 - fill(t, 16),
    "16x16 binary (Semeion-like)": lambda t: np.where(fill(t, 16) > 127, 255, 0).astype(np.uint8),
    "32x32 binary, dark on light (NIST-like)": lambda t: np.where(fill(t, 32) > 127, 0, 255).astype(np.uint8),
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="run folder or .safetensors (default: the package default)")
    ap.add_argument("--n", type=int, default=2000, help="digits per half")
    ap.add_argument("--out", default="tile_formats", help="result name under benchmarks/results")
    args = ap.parse_args(argv)
    test = load_split("mnist", "test")
    images, labels = test.images.numpy(), test.labels.numpy()
    rec = Recognizer.load(args.model)
    out: dict = {"data": "MNIST test digits stored as other collections' tiles",
                 "model": args.model or "default"}
    for half, start in (("tune", 0), ("score", 1)):
        tiles, truth = images[start::2][:args.n], labels[start::2][:args.n]
        for name, store in FORMATS.items():
            answers = rec.predict_many([store(t) for t in tiles])
            digits = np.array([-1 if a.digit is None else a.digit for a in answers])
            r = out[f"{half}/{name}"] = {"n": len(truth), "correct": float((digits == truth).mean()),
                                        "abstained": float((digits < 0).mean())}
            print(f"{half:5s} {name:40s} correct {r['correct']:.2%}  abstained {r['abstained']:.2%}")
    print(write_result(args.out, out))


if __name__ == "__main__":
    main()
