"""`write_report(run)`: a finished run's evaluation report as PNGs, report.html and report.json.

The report shows the training curves, the confusion matrix, per-class precision/recall/F1, the most
confused pairs, the most confident mistakes, the first 20 test predictions (the seed's figure), a
reliability diagram with ECE, and the run's config, timings and hardware. report.json holds every
number the page shows.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from handwritten_digits.calibration import expected_calibration_error, reliability_bins
from handwritten_digits.fileio import write_bytes, write_json
from handwritten_digits.report import plots
from handwritten_digits.report.evaluation import (
    ProgressFn,
    RunEvaluation,
    confused_pairs,
    evaluate_run,
    predictions,
    top_errors,
)
from handwritten_digits.report.machine import machine_info
from handwritten_digits.report.sections import run_sections

log = logging.getLogger(__name__)

REPORT_FORMAT = "handwritten-digits/report"
N_BINS = 15
N_ERRORS = 24  # misclassified images in the gallery
N_FIRST = 20  # the seed's prediction grid: the first 20 test images


def write_report(run: str | Path, out: str | Path | None = None,
                 progress: ProgressFn | None = None) -> Path:
    """Evaluate `run` and write its report into `out` (default RUN/report); return report.html."""
    start = time.perf_counter()
    run = Path(run)
    out = Path(out) if out is not None else run / "report"
    log.info("report for %s: evaluating the test set", run)
    ev = evaluate_run(run, progress)
    data = report_data(ev)
    figures = draw_figures(ev, data, progress)
    data["figures"] = {name: f"{name}.png" for name in figures}
    data["timings"]["report"] = {"evaluate_s": ev.evaluate_s,
                                 "total_s": time.perf_counter() - start}
    if progress:
        progress("writing", 0, 1)
    for name, png in figures.items():
        write_bytes(out / f"{name}.png", png)
    write_json(out / "report.json", data)
    page = run_sections(data, figures)
    write_bytes(out / "report.html", page.encode("utf-8"))
    if progress:
        progress("writing", 1, 1)
    log.info("report written to %s in %.1fs", out, time.perf_counter() - start)
    return out / "report.html"


def report_data(ev: RunEvaluation) -> dict[str, Any]:
    """Every number the report shows, as plain JSON-able values."""
    names, m = ev.class_names, ev.metrics
    temperature = float(ev.meta.get("temperature", 1.0))
    calibration = {"n_bins": N_BINS, "temperature": temperature,
                   "ece": expected_calibration_error(ev.probs, ev.labels, N_BINS),
                   "bins": reliability_bins(ev.probs, ev.labels, N_BINS)}
    if temperature != 1.0:  # what the calibration bought: ECE of the raw softmax
        raw = torch.softmax(torch.from_numpy(ev.logits).double(), 1).numpy()
        calibration["ece_at_temperature_1"] = expected_calibration_error(raw, ev.labels, N_BINS)
    best = max(ev.history, key=lambda r: r["val_acc"]) if ev.history else {}
    return {
        "format": REPORT_FORMAT, "format_version": 1,
        "run": str(ev.run.resolve()),
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "model": {"name": ev.meta["model"], "parameters": ev.meta.get("parameters"),
                  "epoch": ev.meta.get("epoch"), "dataset": ev.config.get("dataset"),
                  "class_names": names, "temperature": temperature},
        "summary": {"test_accuracy": m["accuracy"], "test_errors": m["errors"], "test_n": m["n"],
                    "test_loss": m["loss"], "ece": calibration["ece"],
                    "best_epoch": best.get("epoch"), "best_val_accuracy": best.get("val_acc")},
        "history": ev.history,
        "test": {k: m[k] for k in ("n", "accuracy", "loss", "errors", "per_class", "confusion")},
        "confused_pairs": confused_pairs(m["confusion"], names),
        "misclassified": {
            "count": m["errors"], "order": "most confident first",
            "shown": predictions(top_errors(ev.labels, ev.probs, N_ERRORS), ev.labels, ev.probs,
                                 names)},
        "first_predictions": predictions(np.arange(min(N_FIRST, len(ev.labels))), ev.labels,
                                         ev.probs, names),
        "calibration": calibration,
        "config": ev.config,
        "timings": timings(ev.history),
        "hardware": machine_info(),
        "versions": ev.meta.get("versions", {}),
    }


def timings(history: list[dict[str, Any]]) -> dict[str, Any]:
    """Training time in total and per epoch, and throughput."""
    if not history:
        return {"epochs": 0}
    rates = [r["images_per_s"] for r in history if "images_per_s" in r]
    return {"epochs": len(history), "train_time_s": history[-1].get("train_time_s"),
            "epoch_time_s": [r.get("epoch_time_s") for r in history],
            "images_per_s_mean": float(np.mean(rates)) if rates else None}


def draw_figures(ev: RunEvaluation, data: dict[str, Any],
                 progress: ProgressFn | None = None) -> dict[str, bytes]:
    """name -> PNG bytes for every figure of the report."""
    jobs = {
        "curves": lambda: plots.training_curves(ev.history),
        "confusion": lambda: plots.confusion_heatmap(data["test"]["confusion"], ev.class_names),
        "misclassified": lambda: _gallery(ev, data["misclassified"]["shown"], ncols=6,
                                          title="Most confident mistakes"),
        "predictions": lambda: _gallery(ev, data["first_predictions"], ncols=5,
                                        title=f"First {N_FIRST} test images"),
        "reliability": lambda: plots.reliability_diagram(
            data["calibration"]["bins"], data["calibration"]["ece"],
            data["calibration"]["temperature"]),
    }
    figures: dict[str, bytes] = {}
    for i, (name, draw) in enumerate(jobs.items()):
        if progress:
            progress("drawing", i, len(jobs))
        if name == "misclassified" and not data["misclassified"]["shown"]:
            continue
        figures[name] = draw()
    if progress:
        progress("drawing", len(jobs), len(jobs))
    return figures


def confidence_text(p: float) -> str:
    """A probability as a percentage rounded down, so that a wrong 99.97% never reads as 100%."""
    return f"{math.floor(p * 1000) / 10:.1f}%"


def _gallery(ev: RunEvaluation, records: list[dict[str, Any]], ncols: int, title: str) -> bytes:
    idx = [r["index"] for r in records]
    titles = [f"pred {r['predicted']} ({confidence_text(r['confidence'])})"
              + ("" if r["true"] == r["predicted"] else f"\ntrue {r['true']}") for r in records]
    colors = [plots.GOOD if r["true"] == r["predicted"] else plots.BAD for r in records]
    return plots.image_grid(ev.images[idx].numpy(), titles, colors, ncols=ncols, title=title)

