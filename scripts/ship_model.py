"""Copy a trained run's best model into the package as the default model, with its model card.

    python scripts/ship_model.py runs/best-s0 [--notes benchmarks/results/realworld.md]
    python scripts/ship_model.py runs/best2-s2 --weights runs/gate/default-gated.safetensors
    python scripts/ship_model.py --weights runs/ood/default-ood.safetensors   # the run folder is gone

`--weights` ships another file made from the run's model, such as a copy with a "not a digit" gate
(`python -m handwritten_digits.gate`) or with an out-of-distribution score (`python -m
handwritten_digits.ood`); the run folder supplies the training history, or, without one, the sidecar
(the epochs trained and the training time up to the epoch kept).

Writes src/handwritten_digits/assets/default.safetensors, default.json and MODEL_CARD.md. The card is
generated from the sidecar (recipe, seed, metrics, calibration) so it cannot drift from the weights.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from handwritten_digits.modelio import PACKAGE_DEFAULT, load_model
from handwritten_digits.train import read_metrics

MAX_BYTES = 5 * 1024 * 1024


def _precision(asked: str | None, ran: str | None) -> str:
    """What the card says of precision: what ran (runs before it was recorded ran what was asked)."""
    ran = ran or asked
    if ran == "bf16":
        return "bf16 autocast"
    return "fp32" + (" (the recipe asks for bf16; the device had none natively)" if asked == "bf16" else "")


def card(meta: dict, epochs_run: int, train_time_s: float, size: int, extra: str) -> str:
    m, cal = meta["metrics"], meta.get("calibration", {})
    cfg = meta.get("train_config", {})
    lines = [
        f"# Model card: default digit recognizer ({meta['model']})", "",
        "## What it is",
        f"- Architecture `{meta['model']}` {json.dumps(meta.get('model_args', {}))}, "
        f"{meta['parameters']:,} parameters, {size / 1e6:.2f} MB safetensors.",
        f"- Input: 28x28 grayscale, white ink on black, pixel/255 normalised with mean "
        f"{meta['input']['mean']} and std {meta['input']['std']}; real photos go through "
        "`handwritten_digits.preprocess` first.",
        f"- Output: logits for classes {', '.join(meta['class_names'])}; calibrated with temperature "
        f"{meta.get('temperature', 1.0):.3f}.", "",
        "## How it was trained",
        f"- Data: {meta.get('dataset')} training split, 55,000 images (the fixed, seeded 5,000-image "
        "validation split held out). MD5s of the source files: "
        + ", ".join(f"`{k}` {v}" for k, v in meta.get("data_hashes", {}).items()) + ".",
        f"- Recipe `{meta.get('recipe')}` (v{cfg.get('recipe_version')}), seed {meta.get('seed')}: "
        f"{cfg.get('epochs')} epochs, batch {cfg.get('batch_size')}, {cfg.get('optimizer')} lr "
        f"{cfg.get('lr')} with {cfg.get('schedule')} schedule, weight decay {cfg.get('weight_decay')}, "
        f"label smoothing {cfg.get('label_smoothing')}, augmentation `{cfg.get('augment')}`, "
        f"{_precision(cfg.get('precision'), m.get('train_precision'))}.",
        f"- Reproduce: `digits train --recipe {meta.get('recipe')}@{cfg.get('recipe_version')} "
        + (f"--flag {cfg['flag']} " if cfg.get("flag") else "") + f"--seed {meta.get('seed')}` "
        f"(training time here: {train_time_s / 60:.1f} min on 2 CPU cores).",
        f"- Epoch kept: {meta['epoch']} of {epochs_run}, chosen on validation accuracy; "
        "the test set was never used to choose anything.", "",
        "## How well it does",
        f"- Validation accuracy {m['val_acc']:.2%}, test accuracy {m['test_acc']:.2%} "
        f"({round((1 - m['test_acc']) * 10000)} errors of 10,000).",
        f"- Calibration (15-bin ECE): validation {cal.get('val', {}).get('ece_before', 0):.4f} -> "
        f"{cal.get('val', {}).get('ece_after', 0):.4f}, test {cal.get('test', {}).get('ece_before', 0):.4f}"
        f" -> {cal.get('test', {}).get('ece_after', 0):.4f} after temperature scaling.", "",
        "## Known limits",
        "- Trained on MNIST only: Western Arabic digits 0-9, one per image; numbers are read by "
        "segmenting first (`digits read`).",
        "- Styles rare in MNIST (American census staff and students' handwriting) are read less well: "
        "decorative fonts, very slanted or very thick writing.",
        "- Confidence is calibrated on MNIST validation data; on real photos it is an indication, "
        "and the abstention rules (blank, not a digit, unreadable) add checks on the ink itself.",
    ]
    gate = meta.get("gate")
    if gate:
        gm = gate.get("metrics", {})
        lines[lines.index("## Known limits"):lines.index("## Known limits")] = [
            "## Not-a-digit gate",
            f"- A second small network (`{gate['model']}` {json.dumps(gate.get('model_args', {}))}) in "
            "the same file rates each preprocessed image \"digit\" or \"not a digit\"; it was trained "
            "on MNIST training digits, printed-font digits and digits drawn as pen strokes against "
            "letters and symbols (printed and pen-drawn), pairs of touching MNIST training digits, "
            "Fashion-MNIST training images, scribbles, shapes and noise "
            "(`python -m handwritten_digits.gate`).",
            f"- Threshold {gate['threshold']}: chosen on the tune split of the real-world sets "
            "(`python -m benchmarks.gate_threshold`). On its own held-out tenth: "
            f"{gm.get('negatives_caught', 0):.1%} of negatives caught, {gm.get('digits_flagged', 0):.2%} "
            f"of digits flagged (at threshold {gm.get('at_threshold', 0.5)}).", ""]
    ood = meta.get("ood")
    if ood:
        lines[lines.index("## Known limits"):lines.index("## Known limits")] = [
            "## Out-of-distribution score",
            "- The classifier's last-stage features (max- and mean-pooled) are modelled as one Gaussian "
            f"per class with a shared covariance, fitted on {ood.get('fitted_on', 'mnist/train')}; an "
            f"input whose squared Mahalanobis distance to the nearest class exceeds {ood['threshold']:g} is "
            "abstained as \"not a digit\", like the gate (`python -m handwritten_digits.ood`; threshold "
            "chosen on the tune split of the real-world sets and the other collection's tune half, "
            "`python -m benchmarks.ood_threshold`).", ""]
    if extra:  # its headings go below this section's
        notes = "\n".join("##" + line if line.startswith("#") else line
                           for line in extra.strip().splitlines())
        lines += ["", "## Measured on real-world style images", "", notes]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, nargs="?", help="the run folder (its training history)")
    parser.add_argument("--notes", type=Path, help="Markdown to append (e.g. real-world scores).")
    parser.add_argument("--weights", type=Path, help="ship this file instead of RUN/model.safetensors")
    args = parser.parse_args()
    if args.run is None and args.weights is None:
        raise SystemExit("give a run folder, or --weights")
    weights = args.weights or args.run / "model.safetensors"
    size = weights.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{weights}: {size} bytes is over the 5 MB limit for a shipped model")
    meta = load_model(weights).meta
    PACKAGE_DEFAULT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(weights, PACKAGE_DEFAULT)
    shutil.copyfile(weights.with_suffix(".json"), PACKAGE_DEFAULT.with_suffix(".json"))
    extra = args.notes.read_text() if args.notes else ""
    history = read_metrics(args.run) if args.run is not None else []
    if history:
        epochs_run, train_time_s = len(history), history[-1]["train_time_s"]
    else:  # the sidecar's own record: right when the epoch kept is the last one
        epochs_run, train_time_s = meta["train_config"]["epochs"], meta["metrics"]["train_time_s"]
    text = card(meta, epochs_run, train_time_s, size, extra)
    (PACKAGE_DEFAULT.parent / "MODEL_CARD.md").write_text(text)
    print(f"shipped {weights} ({size / 1e6:.2f} MB) as {PACKAGE_DEFAULT}")


if __name__ == "__main__":
    main()
