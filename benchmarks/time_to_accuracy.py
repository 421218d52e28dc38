"""Training wall time at which test accuracy first passes 99.0 / 99.5 / 99.7 %, per recipe and seed.

All recipes and the seed CNN (the reference) run in one process, one after another, so their times
share the machine's state; the table quotes medians over seeds and each recipe's time as a ratio of
the reference's. Training time is the sum of epoch times (evaluation excluded); the test accuracy is
computed after every epoch for this report only — nothing is selected on it.

    python -m benchmarks.time_to_accuracy --recipes fast,medium --seeds 0,1,2 --reference seed

A recipe name may end in /fp32 or /bf16 to override the recipe's precision (`fast,fast/fp32`: what
bf16 autocast buys on this machine, in one run); the precision that ran is recorded per run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.common import RESULTS, machine, median, write_result
from handwritten_digits.recipes import recipe_config
from handwritten_digits.train import fit, read_metrics

THRESHOLDS = (0.990, 0.995, 0.997)


def time_to(history: list[dict], threshold: float) -> float | None:
    for r in history:
        if r["test_acc"] >= threshold:
            return r["train_time_s"]
    return None


def run_recipe(name: str, seed: int) -> dict:
    recipe, _, precision = name.partition("/")
    with tempfile.TemporaryDirectory() as tmp:
        config = recipe_config(recipe, seed=seed, out=f"{tmp}/run", precision=precision or None)
        history = read_metrics(fit(config, remember=False))
    final = history[-1]
    row = {"recipe": name, "seed": seed, "epochs": len(history), "precision": final.get("train_precision"),
           "train_time_s": final["train_time_s"], "final_test_acc": final["test_acc"],
           "per_epoch": [{k: r[k] for k in ("epoch", "train_time_s", "val_acc", "test_acc")}
                         for r in history]}
    for t in THRESHOLDS:
        row[f"time_to_{t:.3f}"] = time_to(history, t)
    print(f"{name} seed {seed}: final test {final['test_acc']:.4f} after {final['train_time_s']:.1f}s; "
          + ", ".join(f"{t:.1%}: {row[f'time_to_{t:.3f}']}" for t in THRESHOLDS), flush=True)
    return row


def summarise(rows: list[dict], reference: str) -> list[dict]:
    ref = median([r["train_time_s"] for r in rows if r["recipe"] == reference])
    out = []
    for name in dict.fromkeys(r["recipe"] for r in rows):
        mine = [r for r in rows if r["recipe"] == name]
        entry = {"recipe": name, "seeds": len(mine),
                 "median_final_test_acc": median([r["final_test_acc"] for r in mine]),
                 "median_train_time_s": median([r["train_time_s"] for r in mine])}
        for t in THRESHOLDS:
            times = [r[f"time_to_{t:.3f}"] for r in mine]
            entry[f"median_time_to_{t:.3f}"] = median([x for x in times if x is not None]) \
                if all(x is not None for x in times) else None
        entry["time_vs_reference"] = entry["median_train_time_s"] / ref if ref else None
        out.append(entry)
    return out


def markdown(summary: list[dict], info: dict) -> str:
    def fmt(x: float | None) -> str:
        return "—" if x is None else f"{x:.1f} s"
    simd = f", {info['simd']}, native bf16: {'yes' if info['native_bf16'] else 'no'}" if "simd" in info \
        else ""
    where = f"{info['gpu']} (GPU) with " if info.get("gpu") else ""
    lines = [f"Measured on {where}{info['cpu']} ({info['cores']} cores{simd}), torch {info['torch']}, "
             f"{info['date']}.",
             "", "| recipe | seeds | median final test acc | median train time | to 99.0% | to 99.5% | "
             "to 99.7% | time vs seed-cnn |", "|---|---|---|---|---|---|---|---|"]
    for e in summary:
        lines.append(f"| {e['recipe']} | {e['seeds']} | {e['median_final_test_acc']:.2%} | "
                     f"{fmt(e['median_train_time_s'])} | {fmt(e['median_time_to_0.990'])} | "
                     f"{fmt(e['median_time_to_0.995'])} | {fmt(e['median_time_to_0.997'])} | "
                     f"{e['time_vs_reference']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="fast,medium")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--reference", default="seed", help="Recipe used as the time reference.")
    parser.add_argument("--reference-seeds", default="0")
    parser.add_argument("--name", default="time_to_accuracy")
    args = parser.parse_args()
    rows = [run_recipe(args.reference, int(s)) for s in args.reference_seeds.split(",")]
    for name in args.recipes.split(","):
        rows += [run_recipe(name, int(s)) for s in args.seeds.split(",")]
    summary = summarise(rows, args.reference)
    info = machine()
    write_result(args.name, {"runs": rows, "summary": summary})
    table = markdown(summary, info)
    Path(RESULTS / f"{args.name}.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
