"""Wall time of `digits report RUN` on the 10k MNIST test set (issue target: < 5 s), median of repeats.

Times the whole command as a user runs it (interpreter start, imports, evaluation, figures, page) and
reads the report's own split of that time (test-set evaluation vs the rest) from report.json. It also
records the command's CPU time (user + system, all threads): on a shared, busy machine wall time
measures the neighbours, while CPU time bounds the wall time on an idle one (at least one core). The
load average is recorded beside the figures.

    .venv/bin/python -m benchmarks.report_time runs/best2-s2 --cold
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "report_time.json"
DIGITS = [sys.executable, "-m", "handwritten_digits"]


CACHE = "test_logits.safetensors"  # the run's cached test-set logits (written by training's report)


def time_run(run: Path, repeats: int, cold: bool = False) -> dict:
    """Median and all wall times of `digits report RUN`, with the evaluation's share. `cold`: on a
    copy of the run without its cached test logits, so every repeat evaluates the model again."""
    walls, cpus, evals, inner = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        source = run
        for _ in range(repeats):
            if cold:
                source = Path(tmp) / "run"
                shutil.rmtree(source, ignore_errors=True)
                shutil.copytree(run, source, ignore=shutil.ignore_patterns(CACHE, "report*", "*.png"))
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([*DIGITS, "report", str(source), "--out", tmp], check=True,
                           stdout=subprocess.DEVNULL)
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            data = json.loads((Path(tmp) / "report.json").read_text())
            evals.append(data["timings"]["report"]["evaluate_s"])
            inner.append(data["timings"]["report"]["total_s"])
    return {"run": str(run), "cached_logits": not cold and (run / CACHE).exists(),
            "model": data["model"]["name"], "dataset": data["model"]["dataset"],
            "test_images": data["test"]["n"], "repeats": repeats,
            "wall_s": [round(w, 3) for w in walls], "median_wall_s": round(statistics.median(walls), 3),
            "cpu_s": [round(c, 3) for c in cpus], "median_cpu_s": round(statistics.median(cpus), 3),
            "median_evaluate_s": round(statistics.median(evals), 3),
            "median_in_library_s": round(statistics.median(inner), 3),
            "under_5s": statistics.median(walls) < 5.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="finished run folders")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cold", action="store_true", help="also time runs without cached test logits")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    load_before = os.getloadavg()
    results = [time_run(run, args.repeats) for run in args.runs]
    if args.cold:
        results += [time_run(run, args.repeats, cold=True) for run in args.runs]
    for r in results:
        state = "cached logits" if r["cached_logits"] else "cold"
        print(f"{r['model']} ({state}, {r['test_images']} images): median {r['median_wall_s']:.2f}s wall "
              f"(evaluation {r['median_evaluate_s']:.2f}s), {r['median_cpu_s']:.2f}s CPU; "
              f"wall {r['wall_s']}")
    record = {
        "benchmark": "digits report RUN --out DIR (wall time, whole command)",
        "target_s": 5.0, "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "cpu_count": os.cpu_count(), "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
