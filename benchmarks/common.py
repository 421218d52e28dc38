"""Helpers shared by the benchmark scripts: machine description, medians, result files, and an earlier
commit's package to run a benchmark against."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict[str, Any]:
    # read here, not through handwritten_digits.report.machine: latency_compare runs this file against
    # older packages, so it may use only what they had
    info: dict[str, str] = {}
    try:  # the first processor's block
        for line in Path("/proc/cpuinfo").read_text().split("\n\n")[0].splitlines():
            key, _, value = line.partition(":")
            info[key.strip()] = value.strip()
    except OSError:
        pass
    from handwritten_digits.context import native_bf16

    # "AMD EPYC" names both a Zen 4 with AVX-512 and BF16 and an AVX2-only part: say which (and the
    # family/model: AMD's 25/1 is a Zen 3, 25/17 a Zen 4)
    return {"cpu": info.get("model name", "unknown"),
            "cpu_family_model": f"{info['cpu family']}/{info['model']}" if "cpu family" in info else None,
            "cores": os.cpu_count(), "simd": torch.backends.cpu.get_cpu_capability(),
            "native_bf16": native_bf16(torch.device("cpu")), "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "torch": torch.__version__, "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def write_result(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2) + "\n")
    return path


def export(rev: str, into: Path) -> Path:
    """The package sources (src/) of commit `rev`, unpacked under `into`."""
    archive = into / "src.tar"
    try:
        subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), rev, "src"],
                       check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as e:
        sys.exit(f"error: git archive {rev}: {e.stderr.strip().splitlines()[-1] if e.stderr else e}")
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def package_env(src: Path) -> dict[str, str]:
    """The environment in which `python -m benchmarks...` imports the package from `src` (ahead of the
    installed one, which the editable install puts after PYTHONPATH)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(ROOT)])}
