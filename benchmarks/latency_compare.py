"""File -> answer latency of this checkout against an earlier commit, in alternating runs.

The machines this project runs on drift by tens of percent over a day, and machines of one kind differ
as much, so a latency change is measured as the ratio of paired runs taken minutes apart: each pair
runs `benchmarks.preprocess_latency` once on the commit's package and once on this checkout's, in
alternating order, and the result is the median of the pairs' ratios.

    python -m benchmarks.latency_compare --against e4c30ec --pairs 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import ROOT, export, package_env, write_result

KEYS = ("file_to_answer_ms_p50", "preprocess_ms_p50")


def run_once(src: Path, runs: int, out: Path) -> dict:
    """One run of the latency benchmark with the package imported from `src`."""
    subprocess.run([sys.executable, "-m", "benchmarks.preprocess_latency", "--runs", str(runs),
                    "--out", str(out)], check=True, env=package_env(src), cwd=ROOT, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", required=True, help="the earlier commit (any git revision)")
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--runs", type=int, default=300, help="timed answers per run")
    args = ap.parse_args(argv)
    if args.pairs < 1 or args.runs < 1:
        sys.exit("error: --pairs and --runs must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"before": export(args.against, Path(tmp)), "after": ROOT / "src"}
        rows: dict[str, list[dict]] = {"before": [], "after": []}
        for i in range(args.pairs):
            for name in ("before", "after") if i % 2 == 0 else ("after", "before"):
                rows[name].append(run_once(trees[name], args.runs, Path(tmp) / f"{name}.json"))
                print(f"pair {i + 1} {name}: {rows[name][-1]['file_to_answer_ms_p50']} ms", file=sys.stderr)
    result: dict = {"against": args.against, "pairs": args.pairs, "runs": args.runs}
    for key in KEYS:
        before, after = ([r[key] for r in rows[n]] for n in ("before", "after"))
        ratios = [a / b for a, b in zip(after, before, strict=True)]
        result[key] = {"before": before, "after": after, "before_median": statistics.median(before),
                       "after_median": statistics.median(after), "ratios": [round(r, 3) for r in ratios],
                       "ratio_median": round(statistics.median(ratios), 3)}
    result["python_probe_ms"] = [r["python_probe_ms"] for r in rows["after"] if "python_probe_ms" in r]
    print(json.dumps(result, indent=2))
    print(write_result("latency_compare", result), file=sys.stderr)


if __name__ == "__main__":
    main()
