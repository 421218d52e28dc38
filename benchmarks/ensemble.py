"""Ensembles of trained runs on MNIST: every member alone, then all of them together, with and without TTA.

Two ways to combine are compared, and the one to quote, with or without TTA, is chosen on the
validation split (the test split chooses nothing): "equal" averages every member's log-probabilities
(what `digits evaluate A B ...` and `digits ensemble` do); "by-architecture" averages within each
architecture (model + arguments) first, so seven runs of one design do not outvote two of another.
Each member's row carries the command that trains it again.

    python -m benchmarks.ensemble runs/best-s0 runs/best2-s2 ... [--name ensemble_best]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import torch

from benchmarks.common import write_result
from handwritten_digits.data.datasets import load_split
from handwritten_digits.evaluate import infer
from handwritten_digits.modelio import load_model

SPLITS = ("val", "test")


def train_command(run: Path) -> str:
    """`digits train ...` that reproduces the run from its config.json."""
    c = json.loads((run / "config.json").read_text())
    args = [f"--recipe {c['recipe']}@{c['recipe_version']}"] if c.get("recipe") else []
    for key in ("model", "epochs", "batch_size", "lr", "optimizer", "weight_decay", "schedule",
                "label_smoothing", "augment", "precision"):
        args.append(f"--{key.replace('_', '-')} {c[key]}")
    if c.get("flag"):  # written only when used: runs from before it have no such field
        args.append(f"--flag {c['flag']}")
    args += [f"--model-arg {k}={json.dumps(v)}" for k, v in c.get("model_args", {}).items()]
    return " ".join(["digits train", *args, f"--seed {c['seed']}"])


def accuracy(logp: torch.Tensor, labels: torch.Tensor) -> dict[str, float | int]:
    wrong = int((logp.argmax(1) != labels).sum())
    return {"accuracy": round(1 - wrong / len(labels), 6), "errors": wrong}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--name", default="ensemble_best", help="results/NAME.json")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = {s: load_split("mnist", s) for s in SPLITS}
    logps: dict[tuple[str, str, bool], torch.Tensor] = {}
    members, groups = [], defaultdict(list)
    for run in args.runs:
        m = load_model(run)
        arch = f"{m.meta['model']} {json.dumps(m.meta.get('model_args', {}), sort_keys=True)}"
        groups[arch].append(str(run))
        row: dict = {"run": str(run), "architecture": arch, "command": train_command(run)}
        for s in SPLITS:
            for tta in (False, True):
                lp = infer(m.model, data[s].images, m.mean, m.std, tta=tta).log_softmax(1)
                logps[str(run), s, tta] = lp
                row[f"{s}{'_tta' if tta else ''}"] = accuracy(lp, data[s].labels)
        members.append(row)
        print(f"{run}: test {row['test']['accuracy']:.4f}, val {row['val']['accuracy']:.4f}")

    def combine(rule: str, split: str, tta: bool) -> torch.Tensor:
        if rule == "equal":
            return torch.stack([logps[str(r), split, tta] for r in args.runs]).mean(0)
        return torch.stack([torch.stack([logps[r, split, tta] for r in runs]).mean(0)
                            for runs in groups.values()]).mean(0)

    ensembles = {rule: {f"{s}{'_tta' if tta else ''}": accuracy(combine(rule, s, tta), data[s].labels)
                        for s in SPLITS for tta in (False, True)}
                 for rule in ("equal", "by-architecture")}
    # the rule and whether to use TTA are chosen on validation errors; ties keep equal weights first,
    # then no TTA
    rule, view = min(((r, v) for r in ensembles for v in ("val", "val_tta")),
                     key=lambda c: (ensembles[c[0]][c[1]]["errors"], c[0] != "equal", c[1] != "val"))
    tta = view == "val_tta"
    chosen = {"rule": rule, "tta": tta, "test": ensembles[rule]["test_tta" if tta else "test"]}
    path = write_result(args.name, {"members": members, "architectures": dict(groups),
                                    "ensembles": ensembles, "chosen_on_validation": chosen})
    for name, res in ensembles.items():
        print(f"{name:16s} " + "  ".join(f"{k} {v['accuracy']:.4f} ({v['errors']})" for k, v in res.items()))
    print(f"chosen on validation: {rule}{' with TTA' if tta else ''}: test "
          f"{chosen['test']['accuracy']:.4f} ({chosen['test']['errors']} errors); wrote {path}")


if __name__ == "__main__":
    main()
