"""File -> answer latency for a 640x480 JPEG photo of a digit (issue target: p50 <= 5 ms).

Writes a synthetic photo (an MNIST-like digit drawn dark on uneven paper, with noise, saved as JPEG),
then times `prepare()` alone and `Recognizer.predict(path)` end to end, one image at a time.

    nice -n 10 .venv/bin/python -m benchmarks.preprocess_latency --model /tmp/dev-cnn
    DIGITS_RUNTIME=torch .venv/bin/python -m benchmarks.preprocess_latency --out /tmp/torch.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

from benchmarks.common import machine
from handwritten_digits.preprocess import prepare
from handwritten_digits.recognize import Recognizer

RESULTS = Path(__file__).parent / "results" / "preprocess_latency.json"


def photo(path: Path, seed: int = 0) -> Path:
    """A 640x480 JPEG: a hand-drawn-looking 3 in blue ink on shaded, noisy paper."""
    rng = np.random.default_rng(seed)
    paper = np.full((480, 640), 205.0) + np.linspace(-25, 25, 640)[None, :] + rng.normal(0, 5, (480, 640))
    rgb = np.stack([paper, paper * 0.98, paper * 0.93], -1).clip(0, 255).astype(np.uint8)
    img = Image.fromarray(rgb)
    d = ImageDraw.Draw(img)
    d.arc((250, 110, 390, 230), 200, 90, fill=(30, 40, 120), width=9)
    d.arc((245, 220, 395, 370), 270, 160, fill=(30, 40, 120), width=9)
    img.filter(ImageFilter.GaussianBlur(1.2)).save(path, "JPEG", quality=85)
    return path


def timed(fn, runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per call (CPU time is what a busy shared machine can't inflate)."""
    for _ in range(5):
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.thread_time()
        fn()
        wall.append((time.perf_counter() - t) * 1e3)
        cpu.append((time.thread_time() - c) * 1e3)
    return wall, cpu


def probe_ms() -> float:
    """Milliseconds for a fixed pure-Python loop (median of 5): machines of one kind differ, and one
    machine drifts, by tens of percent in the interpreter-bound work that most of an answer is, so
    compare figures taken on different days by this too."""
    times = []
    for _ in range(5):
        t = time.perf_counter()
        sum(range(1_000_000))
        times.append((time.perf_counter() - t) * 1e3)
    return round(float(np.median(times)), 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 = a server worker)")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    recognizer = Recognizer.load(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        path = photo(Path(tmp) / "photo.jpg")
        pred = recognizer.predict(str(path))
        pre, pre_cpu = timed(lambda: prepare(str(path)), args.runs)
        end, end_cpu = timed(lambda: recognizer.predict(str(path)), args.runs)
    networks = getattr(recognizer, "networks", None)  # None: a package from before stop 26 (PyTorch)
    result = {"image": "640x480 JPEG", "runs": args.runs, "torch_threads": args.threads,
              "model": str(recognizer.loaded.path), "runtime": networks.runtime if networks else "torch",
              "answer": pred.digit, "reason": pred.reason,
              "preprocess_ms_p50": round(float(np.median(pre)), 3),
              "preprocess_ms_p90": round(float(np.percentile(pre, 90)), 3),
              "file_to_answer_ms_p50": round(float(np.median(end)), 3),
              "file_to_answer_ms_p90": round(float(np.percentile(end, 90)), 3),
              "preprocess_cpu_ms_p50": round(float(np.median(pre_cpu)), 3),
              "file_to_answer_cpu_ms_p50": round(float(np.median(end_cpu)), 3),
              "load_average_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
              "python_probe_ms": probe_ms(), "machine": machine()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
