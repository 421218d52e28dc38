"""The report's figures, drawn with matplotlib's Agg canvas in one house style, returned as PNG bytes.

Every function takes plain numbers or arrays and returns the encoded PNG; nothing here reads files or
knows about runs. Figures are sized for a ~1000 px wide page and stay legible when shrunk to a phone.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

TRAIN, VAL, TEST = "#1f6fb4", "#e8730c", "#6a6a6a"
GOOD, BAD = "#1b7f3b", "#c62828"
STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "figure.titlesize": 14,
    "figure.titleweight": "bold",
    "savefig.dpi": 110,
    "savefig.bbox": "tight",
    "savefig.facecolor": "white",
    "image.interpolation": "nearest",
}


def styled(fn: Callable[..., Figure]) -> Callable[..., bytes]:
    """Draw `fn`'s figure under STYLE and return it encoded as PNG."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> bytes:
        with matplotlib.rc_context(STYLE):
            fig = fn(*args, **kwargs)
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
        return buf.getvalue()
    return wrapper


def _figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    fig = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(fig)
    return fig


@styled
def training_curves(history: Sequence[dict[str, Any]]) -> Figure:
    """Train and validation accuracy (left) and loss (right) per epoch; the best epoch marked."""
    fig = _figure(10, 4)
    epochs = [r["epoch"] for r in history]
    best = max(history, key=lambda r: r["val_acc"])["epoch"] if history else None
    for ax, key, title in zip(fig.subplots(1, 2), ("acc", "loss"), ("Accuracy", "Loss"),
                              strict=True):
        ax.plot(epochs, [r[f"train_{key}"] for r in history], "o-", color=TRAIN, label="train")
        ax.plot(epochs, [r[f"val_{key}"] for r in history], "s--", color=VAL, label="validation")
        if best is not None:
            ax.axvline(best, color=TEST, linestyle=":", linewidth=1, label=f"best (epoch {best})")
        ax.set(title=f"{title} per epoch", xlabel="epoch", ylabel=title.lower())
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if key == "acc":
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        ax.legend(loc="lower right" if key == "acc" else "upper right")
    return fig


@styled
def confusion_heatmap(confusion: Sequence[Sequence[int]], names: Sequence[str]) -> Figure:
    """Counts of (true, predicted) on a log colour scale so that rare errors stay visible."""
    cm = np.asarray(confusion, dtype=np.int64)
    k = len(names)
    fig = _figure(7.5, 6.6)
    ax = fig.subplots()
    norm = LogNorm(vmin=1, vmax=max(2, int(cm.max())))
    image = ax.imshow(np.ma.masked_equal(cm, 0), cmap="Blues", norm=norm)
    bar = fig.colorbar(image, ax=ax, shrink=0.8, label="images (log scale)")
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    for t in range(k):
        for p in range(k):
            if cm[t, p]:
                dark = norm(cm[t, p]) > 0.6
                ax.text(p, t, str(cm[t, p]), ha="center", va="center", fontsize=9,
                        color="white" if dark else ("black" if t == p else BAD))
    ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 2 else 0, ha="right"
                  if max(map(len, names)) > 2 else "center")
    ax.set_yticks(range(k), names)
    ax.set(title="Confusion matrix (test set)", xlabel="predicted class", ylabel="true class")
    ax.grid(False)
    return fig


@styled
def image_grid(images: np.ndarray, titles: Sequence[str], colors: Sequence[str] | None = None,
               ncols: int = 5, title: str = "", cell: float = 1.5) -> Figure:
    """Images (K, 28, 28) in a grid, each under its (multi-line) caption.

    Drawn as one montage in a single Axes with text placed in pixel units: a few times faster than
    one Axes per image, which matters for the report's time budget.
    """
    k, (h, w) = len(images), images.shape[1:]
    nrows = max(1, -(-k // ncols))
    lines = max((t.count("\n") + 1 for t in titles), default=1)
    units_per_inch = w / (cell * 0.8)  # the image fills 80% of its cell's width
    pad = w * 0.25
    text_h = lines * 11 / 72 * 1.3 * units_per_inch  # 11 pt lines with 30% leading
    cell_w, cell_h = w + pad, h + pad + text_h
    canvas = np.full((int(np.ceil(nrows * cell_h)), int(np.ceil(ncols * cell_w))), np.nan)
    fig = _figure(canvas.shape[1] / units_per_inch, canvas.shape[0] / units_per_inch
                  + (0.45 if title else 0), layout=None)
    ax = fig.add_axes((0, 0, 1, 1) if not title else (0, 0, 1, 1 - 0.45 / fig.get_figheight()))
    for i in range(k):
        r, c = divmod(i, ncols)
        top, left = int(r * cell_h + text_h + pad / 2), int(c * cell_w + pad / 2)
        canvas[top:top + h, left:left + w] = images[i]
        ax.text(left + w / 2, top - 1, titles[i], ha="center", va="bottom", fontsize=11,
                color=colors[i] if colors else "black", linespacing=1.15)
    ax.imshow(np.ma.masked_invalid(canvas), cmap="gray_r", vmin=0, vmax=255, aspect="equal")
    ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return fig


@styled
def reliability_diagram(bins: dict[str, list], ece: float, temperature: float = 1.0) -> Figure:
    """Accuracy against confidence per bin over the diagonal, with how many images each bin holds."""
    edges = np.asarray(bins["edges"])
    width = np.diff(edges)
    centers = edges[:-1] + width / 2
    acc = np.array([np.nan if a is None else a for a in bins["accuracy"]])
    conf = np.array([np.nan if c is None else c for c in bins["confidence"]])
    fig = _figure(7, 6.4)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.2])
    top.bar(centers, acc, width=width, color=TRAIN, edgecolor="white", label="accuracy")
    top.bar(centers, conf - acc, bottom=acc, width=width, color=BAD, alpha=0.35, edgecolor=BAD,
            hatch="//", label="gap to confidence")
    top.plot([0, 1], [0, 1], "--", color=TEST, label="perfect calibration")
    suffix = f", T = {temperature:g}" if temperature != 1.0 else ""
    top.set(title=f"Reliability: ECE = {ece:.2%} ({len(centers)} bins{suffix})", ylabel="accuracy",
            xlim=(0, 1), ylim=(0, 1))
    top.yaxis.set_major_formatter(PercentFormatter(1.0))
    top.legend(loc="upper left")
    bottom.bar(centers, bins["count"], width=width, color=TEST, edgecolor="white")
    bottom.set_yscale("log")
    bottom.set(xlabel="confidence (top probability)", ylabel="images")
    bottom.xaxis.set_major_formatter(PercentFormatter(1.0))
    return fig


@styled
def class_balance(counts: dict[str, Sequence[int]], names: Sequence[str]) -> Figure:
    """Share of each class per split, as grouped bars (shares, so splits of any size compare)."""
    fig = _figure(10, 4.4)
    ax = fig.subplots()
    x = np.arange(len(names))
    width = 0.8 / max(1, len(counts))
    for i, ((split, c), color) in enumerate(zip(counts.items(), (TRAIN, VAL, TEST), strict=False)):
        c = np.asarray(c, dtype=np.float64)
        ax.bar(x + (i - (len(counts) - 1) / 2) * width, c / max(1, c.sum()), width,
               label=f"{split} ({int(c.sum()):,} images)", color=color)
    ax.axhline(1 / len(names), color="black", linestyle=":", linewidth=1, label="uniform")
    long = max(map(len, names)) > 2
    ax.set_xticks(x, names, rotation=30 if long else 0, ha="right" if long else "center")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(title="Class balance", xlabel="class", ylabel="share of split")
    fig.legend(loc="outside lower center", ncols=len(counts) + 1)
    return fig


@styled
def intensity_histogram(hist: Sequence[int]) -> Figure:
    """How often each pixel value 0..255 occurs, on a log scale (most pixels are background)."""
    fig = _figure(10, 3.8)
    ax = fig.subplots()
    ax.bar(np.arange(len(hist)), hist, width=1.0, color=TRAIN)
    ax.set_yscale("log")
    ax.set(title="Pixel intensity histogram (training images)",
           xlabel="pixel value (0 = background, 255 = full ink)", ylabel="pixels (log scale)",
           xlim=(-1, len(hist)))
    return fig
