"""Compare retrained classifiers arm against arm, seed against seed, on tune-side data only.

One retrain against the shipped model says little: a plain retrain with another seed moves the tune
figures as much as the changes tried (README, "European 1s"), and the shipped model leads on the tune
split it was developed on. So each arm (a recipe) trains several seeds, as `scripts/train_seeds.sh`
does on a lent GPU, and the arms are compared on the same seeds:

    python -m benchmarks.retrain_ab --arm plain runs/g/plain-s2? --arm flag runs/g/flag-s2? \\
        --dev /tmp/dev1 --dev /tmp/dev2 --name retrain_flag_ab

Each run is finished as the shipped model was: its best-validation classifier gets the shipped model's
"not a digit" gate and an out-of-distribution score fitted to its own features, with a threshold that
refuses the same share of MNIST validation digits as the shipped model's does. It is then measured on
the European 1s of `benchmarks.flagged_ones` (tune half), the other collection's tune half (gated),
the real-world tune split, and fresh tune-side numbers (`--dev`: folders made by `python -m
benchmarks.realworld.generate --split tune --seed S --sets numbers --out DIR`). The score split is never
read. Writes benchmarks/results/NAME.json and NAME.md: each run's figures, each arm's medians, and the
median over seeds of each arm's difference from the first arm. `--reuse` takes the figures of runs an
earlier result measured (the same folders, the same --dev), so a new arm is compared without measuring
the old ones again.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch

from benchmarks import flagged_ones, other_collection
from benchmarks.common import RESULTS, write_result
from benchmarks.realworld.generate import default_out
from benchmarks.realworld.score import read_manifest, score_folder
from handwritten_digits import Recognizer, gate, ood
from handwritten_digits.data.datasets import load_split
from handwritten_digits.errors import DigitsError
from handwritten_digits.modelio import LoadedModel, load_model

TABLE_KEYS = ("good", "bad", "marker", "fonts")  # accuracy on the tune split's sets
MEASURES = ("flagged_ones", "other_tune", "good", "bad", "numbers", "marker", "fonts", "negatives")


def matched_threshold(shipped: np.ndarray, shipped_threshold: float, run: np.ndarray) -> float:
    """The distance threshold that refuses the same share of `run`'s validation distances as
    `shipped_threshold` refuses of `shipped`'s, rounded to tens as the shipped one is."""
    refused = float((shipped > shipped_threshold).mean())
    return round(float(np.percentile(run, 100 * (1 - refused))), -1)


@functools.cache
def _validation() -> torch.Tensor:
    return load_split("mnist", "val").images  # (5000, 28, 28) uint8


def _distances(loaded: LoadedModel) -> np.ndarray:
    return ood.distance(ood.logits_and_features(loaded, _validation())[1], loaded.extra["ood"])


@functools.cache
def _shipped() -> tuple[LoadedModel, np.ndarray]:
    shipped = load_model(None)
    return shipped, _distances(shipped)


def finish(run: Path, work: Path) -> tuple[Path, float]:
    """The run's model with the shipped gate and its own distance score, and that score's threshold."""
    shipped, shipped_d = _shipped()
    gated = gate.attach(run, shipped.extra["gate"], work / "gated.safetensors",
                        shipped.meta["gate"]["threshold"], shipped.meta["gate"]["metrics"])
    scored = load_model(ood.attach(gated, work / "candidate.safetensors"))
    return scored.path, matched_threshold(shipped_d, shipped.meta["ood"]["threshold"], _distances(scored))


@functools.cache
def _other_tune() -> tuple[list[np.ndarray], np.ndarray]:
    """The other collection's tune half, drawn once for every run."""
    blocks, labels = other_collection.load_optdigits()
    return [other_collection.render(b) for b in blocks[0::2]], labels[0::2]


def measure(rec: Recognizer, dev: list[Path]) -> dict[str, float]:
    """The tune-side figures of one finished run, in percent."""
    out = {"flagged_ones": 100 * flagged_ones.measure(rec, "tune")["flag"]["right"]}
    out["other_tune"] = 100 * other_collection.score(rec, *_other_tune())["correct"]
    tune_split = default_out("tune", False)
    table, _ = score_folder(rec, tune_split, read_manifest(tune_split))
    out |= {k: table[k]["accuracy_pct"] for k in TABLE_KEYS}
    out["negatives"] = table["negatives"]["abstained_pct"]
    right = table["numbers"]["accuracy_pct"] * table["numbers"]["n"]
    n = table["numbers"]["n"]
    for folder in dev:  # the tune split's numbers and the fresh ones, pooled
        t, _ = score_folder(rec, folder, read_manifest(folder))
        right += t["numbers"]["accuracy_pct"] * t["numbers"]["n"]
        n += t["numbers"]["n"]
    out["numbers"] = right / n
    return {k: round(v, 2) for k, v in out.items()}


def seed_of(run: Path) -> int:
    return int(json.loads((run / "config.json").read_text())["seed"])


def plan(arms: list[list[str]]) -> dict[str, dict[int, Path]]:
    """Arm name -> seed -> run folder, every folder checked before anything is measured."""
    out: dict[str, dict[int, Path]] = {}
    for name, *folders in arms:
        if name in out:
            raise DigitsError(f"--arm {name} is given twice")
        if not folders:
            raise DigitsError(f"--arm {name} names no run folder")
        out[name] = {}
        for folder in map(Path, folders):
            if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
                raise DigitsError(f"{folder}: not a finished run folder (config.json and model.safetensors)")
            seed = seed_of(folder)
            if seed in out[name]:
                raise DigitsError(f"--arm {name}: {out[name][seed]} and {folder} both have seed {seed}")
            out[name][seed] = folder.resolve()
    first, *others = out
    for name in others:
        if not set(out[name]) & set(out[first]):
            raise DigitsError(f"--arm {name} shares no seed with --arm {first}: nothing to pair")
    return out


def reusable(path: Path | None, dev: list[Path]) -> dict[str, dict]:
    """Figures an earlier result measured, by resolved run folder, if it measured the same --dev."""
    if path is None:
        return {}
    earlier = json.loads(path.read_text())
    if earlier.get("dev") != [str(d.resolve()) for d in dev]:
        raise DigitsError(f"{path} measured numbers in {earlier.get('dev')}, not in the --dev given")
    return {str(Path(r["run"]).resolve()): r for arm in earlier["runs"].values() for r in arm.values()}


def compare(runs: dict[str, dict[int, dict[str, float]]]) -> dict:
    """Each arm's medians, and the median over shared seeds of its difference from the first arm."""
    first = next(iter(runs))
    out: dict = {"medians": {}, "paired_median_difference": {}}
    for arm, by_seed in runs.items():
        out["medians"][arm] = {k: round(statistics.median(r[k] for r in by_seed.values()), 2)
                               for k in MEASURES}
        shared = sorted(set(by_seed) & set(runs[first]))
        if arm != first and shared:
            out["paired_median_difference"][arm] = {"seeds": shared} | {
                k: round(statistics.median(by_seed[s][k] - runs[first][s][k] for s in shared), 2)
                for k in MEASURES}
    return out


def markdown(runs: dict, summary: dict) -> str:
    head = "| run | " + " | ".join(MEASURES) + " |"
    lines = [head, "|---|" + "---:|" * len(MEASURES)]
    for arm, by_seed in runs.items():
        for seed, r in sorted(by_seed.items()):
            lines.append(f"| {arm} s{seed} | " + " | ".join(f"{r[k]:.2f}" for k in MEASURES) + " |")
        lines.append(f"| **{arm} median** | "
                     + " | ".join(f"{summary['medians'][arm][k]:.2f}" for k in MEASURES) + " |")
    for arm, d in summary["paired_median_difference"].items():
        lines.append(f"| {arm} - {next(iter(runs))}, median of pairs | "
                     + " | ".join(f"{d[k]:+.2f}" for k in MEASURES) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arm", nargs="+", action="append", required=True, metavar=("NAME", "RUN"),
                    help="an arm's name and its run folders; once per arm, the first is the reference")
    ap.add_argument("--dev", type=Path, action="append", default=[], help="a fresh tune-side numbers folder")
    ap.add_argument("--reuse", type=Path, metavar="JSON",
                    help="an earlier result of this benchmark: its runs are not measured again")
    ap.add_argument("--name", default="retrain_ab", help="result name under benchmarks/results")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        arms, earlier = plan(args.arm), reusable(args.reuse, args.dev)
    except DigitsError as e:
        ap.error(str(e))
    runs: dict[str, dict[int, dict]] = {}
    for name, by_seed in arms.items():
        runs[name] = {}
        for seed, folder in sorted(by_seed.items()):
            if str(folder) in earlier:
                runs[name][seed] = earlier[str(folder)]
                continue
            with tempfile.TemporaryDirectory() as work:
                path, threshold = finish(folder, Path(work))
                rec = Recognizer.load(path, max_distance=threshold)
                figures = measure(rec, args.dev)
            runs[name][seed] = {"run": str(folder), "distance_threshold": threshold, **figures}
            print(name, folder, runs[name][seed], flush=True)
    summary = compare(runs)
    table = markdown(runs, summary)
    print(table)
    dev = [str(d.resolve()) for d in args.dev]
    print(write_result(args.name, {"dev": dev, "reused": str(args.reuse or ""), "runs": runs, **summary}))
    (RESULTS / f"{args.name}.md").write_text(table)


if __name__ == "__main__":
    main()
