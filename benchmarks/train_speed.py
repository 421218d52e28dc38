"""Seconds per training epoch of the seed CNN at batch 128 and 32 (the foundation's speed target).

Runs whole epochs on the 55k training split with the seed recipe (fp32, Adam 1e-3, channels_last),
reports the median epoch time over several epochs, and scales it to 60k images for comparison with
the notebook's figures (the notebook trained on all 60k). Writes benchmarks/results/train_speed.json.

    python -m benchmarks.train_speed [--epochs 3]
"""

from __future__ import annotations

import argparse
import tempfile

from benchmarks.common import median, write_result
from handwritten_digits.recipes import recipe_config
from handwritten_digits.train import fit, read_metrics


def epoch_times(batch_size: int, epochs: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        config = recipe_config("seed", batch_size=batch_size, epochs=epochs, out=f"{tmp}/run",
                               eval_test=False)
        return read_metrics(fit(config, remember=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    rows = {}
    for bs in (128, 32):
        history = epoch_times(bs, args.epochs)
        times = [r["epoch_time_s"] for r in history]
        med = median(times)
        rows[f"batch_{bs}"] = {"epoch_times_s": times, "median_epoch_s_55k": med,
                               "median_epoch_s_60k_equiv": med * 60_000 / 55_000,
                               "images_per_s": median([r["images_per_s"] for r in history])}
        print(f"seed-cnn batch {bs}: median {med:.1f} s per 55k epoch "
              f"({med * 60 / 55:.1f} s per 60k), epochs {[round(t, 1) for t in times]}")
    path = write_result("train_speed", {"model": "seed-cnn", "precision": "fp32", **rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
