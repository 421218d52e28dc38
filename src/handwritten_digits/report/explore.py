"""`write_explore(dataset)`: look at a data set before training on it.

Writes a sample grid with labels (the seed's figure), the class balance of the train, validation and
test splits, the mean image per class and the pixel intensity histogram, as PNGs plus explore.html and
explore.json (every number shown). Works for any data set `load_split` knows: MNIST, Fashion-MNIST
(with its class names) or a folder of IDX files.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from handwritten_digits.data.datasets import load_split
from handwritten_digits.fileio import write_bytes, write_json
from handwritten_digits.report import plots
from handwritten_digits.report.evaluation import ProgressFn
from handwritten_digits.report.html import Section, cards, image, note, page, table

log = logging.getLogger(__name__)

N_SAMPLES = 20  # the first training images, in file order, as the seed shows them
SECTION_IDS = ("summary", "samples", "balance", "means", "intensity")


def dataset_label(dataset: str) -> str:
    """A short name for a data set: its registry name, or a folder's name."""
    return Path(dataset).name if "/" in dataset else dataset


def explore_data(dataset: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(numbers for explore.json, arrays for the figures) of `dataset`."""
    splits = {name: load_split(dataset, name) for name in ("train", "val", "test")}
    full = load_split(dataset, "train-full")
    names = list(full.class_names)
    x, y = full.images.numpy(), full.labels.numpy()
    hist = np.bincount(x.reshape(-1), minlength=256)
    means = np.stack([x[y == c].mean(0) if (y == c).any() else np.zeros((28, 28))
                      for c in range(len(names))])
    counts = {k: np.bincount(s.labels.numpy(), minlength=len(names)).tolist()
              for k, s in splits.items()}
    data = {
        "format": "handwritten-digits/explore", "format_version": 1,
        "dataset": dataset, "class_names": names,
        "images": {k: len(s) for k, s in splits.items()},
        "class_counts": counts,
        "pixel": {"mean": float((hist * np.arange(256)).sum() / hist.sum()),
                  "share_zero": float(hist[0] / hist.sum()), "histogram": hist.tolist()},
        "samples": [{"index": i, "label": names[int(y[i])]} for i in range(min(N_SAMPLES, len(y)))],
    }
    return data, {"samples": x[:N_SAMPLES], "means": means}


def write_explore(dataset: str = "mnist", out: str | Path | None = None,
                  progress: ProgressFn | None = None) -> Path:
    """Write the exploration figures and page for `dataset` into `out`; return explore.html."""
    start = time.perf_counter()
    out = Path(out) if out is not None else Path("runs") / f"explore-{dataset_label(dataset)}"
    if progress:
        progress("reading", 0, 1)
    data, arrays = explore_data(dataset)
    names = data["class_names"]
    jobs = {
        "samples": lambda: plots.image_grid(
            arrays["samples"], [s["label"] for s in data["samples"]], ncols=5,
            title=f"First {len(data['samples'])} training images"),
        "balance": lambda: plots.class_balance(data["class_counts"], names),
        "means": lambda: plots.image_grid(_stretch(arrays["means"]), names, ncols=5,
                                          title="Mean training image per class"),
        "intensity": lambda: plots.intensity_histogram(data["pixel"]["histogram"]),
    }
    figures = {}
    for i, (name, draw) in enumerate(jobs.items()):
        if progress:
            progress("drawing", i, len(jobs))
        figures[name] = draw()
        write_bytes(out / f"{name}.png", figures[name])
    data["figures"] = {name: f"{name}.png" for name in figures}
    write_json(out / "explore.json", data)
    write_bytes(out / "explore.html", _page(data, figures).encode("utf-8"))
    if progress:
        progress("drawing", len(jobs), len(jobs))
    log.info("exploration of %s written to %s in %.1fs", dataset, out, time.perf_counter() - start)
    return out / "explore.html"


def _stretch(images: np.ndarray) -> np.ndarray:
    """Scale each image to the full 0..255 range so that faint means stay visible."""
    top = images.reshape(len(images), -1).max(1).reshape(-1, 1, 1)
    return images * (255.0 / np.maximum(top, 1e-9))


def _page(data: dict[str, Any], figures: dict[str, bytes]) -> str:
    names, counts, pixel = data["class_names"], data["class_counts"], data["pixel"]
    splits = list(counts)
    rows = [(name, *(counts[s][c] for s in splits)) for c, name in enumerate(names)]
    sections = [
        Section("summary", "Summary", cards(
            [(f"{n:,}", f"{split} images") for split, n in data["images"].items()]
            + [(str(len(names)), "classes"), (f"{pixel['mean']:.1f}", "mean pixel value (0-255)"),
               (f"{pixel['share_zero']:.1%}", "pixels exactly 0")])),
        Section("samples", "Sample images", image(
            figures["samples"], "sample training images with labels",
            "The first training images in file order, each with its label.")),
        Section("balance", "Class balance", image(
            figures["balance"], "class balance per split",
            "Share of each class in each split; the validation split is a fixed, seeded part of the "
            "training file (5,000 of MNIST's 60,000).")
            + table(["class", *splits], rows, [False] + [True] * len(splits))),
        Section("means", "Mean image per class", image(
            figures["means"], "mean training image per class",
            "The pixel-wise mean of every training image of each class, each scaled to full contrast: "
            "where the ink usually is.")),
        Section("intensity", "Pixel intensities", image(
            figures["intensity"], "pixel intensity histogram",
            "How often each pixel value occurs over the whole training file; log scale.")
            + note(f"{pixel['share_zero']:.1%} of all pixels are exactly 0.")),
    ]
    return page(f"Data set: {dataset_label(data['dataset'])}",
                f"{sum(data['images'].values()):,} images, classes: {', '.join(names)}", sections)
