"""European 1s: MNIST test 1s given a flag (and a foot), drawn dark on white, read by `predict`.

MNIST's 1s are mostly one stroke, as American writers draw them; a European 1 starts with a flag from
the top down to the left, often stands on a foot, and crosses its 7s to tell them apart. Each 1 of the
chosen half of the MNIST test set (even-numbered: tune, odd-numbered: score) is enlarged 10x and drawn
three ways: as it is, with a flag (25-45% of its height, 35-65 degrees from vertical), and with a flag
and a foot. The flags are drawn here with Pillow, not by the training augmentation (`augment.flag_ones`).

    python -m benchmarks.flagged_ones [--model M] [--half tune|score] [--out NAME]
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from benchmarks.common import write_result
from handwritten_digits import Recognizer
from handwritten_digits.data.datasets import load_split

SCALE = 10  # the 28x28 tile becomes a 280x280 drawing on a 400x400 page


def _slant(tile: np.ndarray) -> float:
    """The stroke's x at its top minus at its bottom, in tile pixels (positive: leaning right, "/")."""
    ys, xs = np.nonzero(tile > 128)
    return float(xs[ys <= ys.min() + 2].mean() - xs[ys >= ys.max() - 2].mean())


def draw(tile: np.ndarray, rng: np.random.Generator, feet: np.random.Generator, flag: bool, foot: bool
         ) -> np.ndarray:
    """A 400x400 page, dark ink on white, with the 1 and what it was given (`rng` draws the flags,
    `feet` the feet, so that a 1 has the same flag with a foot and without)."""
    big = Image.fromarray(tile).resize((28 * SCALE, 28 * SCALE), Image.Resampling.BICUBIC)
    ink = np.asarray(big) > 128
    ys, xs = np.nonzero(ink)
    top, bottom = ys.min(), ys.max()
    height = bottom - top
    width = max(6, int(ink.sum() / height))
    pen = ImageDraw.Draw(big)
    if flag:
        x_top, reach = xs[ys < top + 8].mean(), height * rng.uniform(0.25, 0.45)
        angle = np.deg2rad(rng.uniform(35, 65))
        pen.line([(x_top, top + width / 2), (x_top - reach * np.sin(angle), top + reach * np.cos(angle))],
                 fill=255, width=width)
    if foot:
        x_bottom, span = xs[ys > bottom - 8].mean(), height * feet.uniform(0.2, 0.3)
        pen.line([(x_bottom - span, bottom - width / 2), (x_bottom + span, bottom - width / 2)],
                 fill=255, width=width)
    page = np.zeros((400, 400), np.uint8)
    page[60:60 + 28 * SCALE, 60:60 + 28 * SCALE] = np.asarray(big)
    return 255 - page


def measure(rec: Recognizer, half: str = "tune", done: Callable[[str, dict], object] | None = None) -> dict:
    """How the half's MNIST test 1s are read drawn plain, with a flag, and with a flag and a foot;
    `done(name, figures)` is called as each of the three is finished."""
    test = load_split("mnist", "test")
    start = 0 if half == "tune" else 1
    keep = np.arange(start, len(test.labels), 2)
    ones = test.images[keep][test.labels[keep] == 1].numpy()
    slant = np.array([_slant(t) for t in ones])
    leaning = {"left (< -1 px)": slant < -1, "upright": (slant >= -1) & (slant < 1),
               "right (>= 1 px)": slant >= 1}
    report: dict = {"half": half, "ones": len(ones)}
    for name, flag, foot in (("plain", False, False), ("flag", True, False), ("flag+foot", True, True)):
        rng, feet = np.random.default_rng(0), np.random.default_rng(1)  # the same for every model
        answers = rec.predict_many([draw(t, rng, feet, flag, foot) for t in ones])
        right = np.array([a.digit == 1 for a in answers])
        report[name] = {"right": round(float(right.mean()), 4),
                        "by_lean": {k: round(float(right[m].mean()), 4) for k, m in leaning.items()},
                        "wrong": dict(Counter(str(a.digit if a.digit is not None else a.reason)
                                              for a, r in zip(answers, right, strict=True) if not r))}
        if done:
            done(name, report[name])
    return report


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="run folder or .safetensors (default: the package default)")
    ap.add_argument("--half", choices=("tune", "score"), default="tune")
    ap.add_argument("--out", default="flagged_ones", help="result name under benchmarks/results")
    args = ap.parse_args(argv)
    figures = measure(Recognizer.load(args.model), args.half, lambda name, r: print(name, r, flush=True))
    print(write_result(args.out, {"model": args.model or "default", **figures}))


if __name__ == "__main__":
    main()
