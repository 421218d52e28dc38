"""Time to load the shipped default model (weights + sidecar -> ready nn.Module), median of N runs.

    python -m benchmarks.model_load [--runs 20]
"""

from __future__ import annotations

import argparse
import time

from benchmarks.common import median, write_result
from handwritten_digits.modelio import default_model_path, load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        load_model()
        times.append((time.perf_counter() - start) * 1000)
    med = median(times)
    path = write_result("model_load", {"model": str(default_model_path()), "runs": args.runs,
                                       "median_ms": med, "max_ms": max(times), "first_ms": times[0]})
    print(f"default model load: median {med:.1f} ms, first {times[0]:.1f} ms, max {max(times):.1f} ms "
          f"over {args.runs} runs; wrote {path}")


if __name__ == "__main__":
    main()
