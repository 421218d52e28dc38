"""Choose the out-of-distribution score's threshold on the *tune* split, by the gate's rule.

The score (`handwritten_digits.ood`) is measured on the first look of every single-digit and negative
image of a tune set that the rest of the Recognizer answers (gate and ink rules included), and the
digits lost on the other collection's tune half (`benchmarks.other_collection`, even-numbered digits)
are counted by reading it at each candidate threshold. The chosen threshold maximises negatives caught
minus digits lost (tune digits answered right, plus the other collection's). The score split is never
read here.

    python -m benchmarks.ood_threshold --data benchmarks/data/realworld-tune
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.common import write_result
from benchmarks.other_collection import load_optdigits, render, score
from handwritten_digits import Recognizer

CANDIDATES = (1000, 1050, 1100, 1150, 1200, 1250, 1300, 1400, 1500, 2000)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a model file with the score (default: the package default)")
    ap.add_argument("--data", type=Path, required=True, help="a tune-split folder with manifest.jsonl")
    args = ap.parse_args(argv)
    rec = Recognizer.load(args.model, max_distance=float("inf"))  # the score off: what it would add
    rows = [json.loads(line) for line in (args.data / "manifest.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["kind"] in ("digit", "negative")]
    answers = rec.predict_many([str(args.data / r["file"]) for r in rows])
    kept = [(r, a) for r, a in zip(rows, answers, strict=True) if a.reason is None]
    far = rec.judge(np.stack([a.model_input for _, a in kept]))[2]
    negative = np.array([r["kind"] == "negative" for r, _ in kept])
    right = np.array([r["kind"] == "digit" and a.digit == r["label"] for r, a in kept])
    blocks, labels = load_optdigits()
    images, labels = [render(b) for b in blocks][0::2], labels[0::2]
    other_base = score(rec, images, labels)["correct"] * len(labels)
    table = []
    for t in CANDIDATES:
        other = score(Recognizer.load(args.model, max_distance=t), images, labels)["correct"] * len(labels)
        row = {"threshold": t, "negatives_caught": int((negative & (far > t)).sum()),
               "tune_digits_lost": int((right & (far > t)).sum()),
               "other_digits_lost": round(other_base - other)}
        row["net"] = row["negatives_caught"] - row["tune_digits_lost"] - row["other_digits_lost"]
        table.append(row)
        print(row, flush=True)
    best = max(table, key=lambda r: (r["net"], r["threshold"]))
    print(write_result("ood_threshold", {"data": str(args.data), "model": args.model or "default",
                                         "answered_negatives": int(negative.sum()),
                                         "answered_digits_right": int(right.sum()),
                                         "chosen": best["threshold"], "table": table}))


if __name__ == "__main__":
    main()
