"""The paper under the ink: which side is ink, the paper's level (shadows, vignetting), the ink's
strength against it, and the pixel noise. All at the working scale `handwritten_digits.ink` uses."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from handwritten_digits.lines import MIN_LINED_SIDE
from handwritten_digits.masks import components, stroke_width
from handwritten_digits.morph import grey_close, grey_open, median_filter

CLEAN_NOISE = 1.0  # gray levels of pixel noise: below this an image is digital (a canvas), not a photo
FLAT_BACKGROUND = 10  # gray levels: a background estimate varying less than this is taken as flat
FLAT_SHARE = 0.7  # of the paper's pixels: this many within FLAT_BACKGROUND of its commonest level is flat
INK_GAP = 24  # gray levels: ... and the median of the other side this far from it (ink, not shading)
AMBIGUOUS = 0.25  # of the gray range: a median this far from both ends does not tell the paper
BG_SIDE = 32  # px: long side of the grid on which the median estimates the paper (48, at three times
# the cost, scored within a few images of it on every tune set)
BG_WINDOW = 0.15  # of the long side: median window (5 px of 32); ink is a minority in it
STROKE_WINDOW = 0.15  # of the long side: closing window, wider than the strokes of a large digit
MIN_STROKE_WINDOW = 10  # px: ... and than the thick strokes of an MNIST-size tile
BROAD_LIGHT = 0.06  # of the long side: a photo's light side this wide is lit paper, not chalk strokes


def tails(work: np.ndarray) -> list[float]:
    """Gray levels at 0.01%, 50% and 99.99%: a small digit in a large photo is 0.02% of the copy."""
    return percentiles(np.bincount(work.ravel(), minlength=256), (0.0001, 0.5, 0.9999))


def polarity(work: np.ndarray, lo: float, med: float, hi: float, clean: bool
             ) -> tuple[bool, np.ndarray]:
    """(dark ink on light paper?, paper level). The paper is the majority, nearer the median; when the
    median sits mid-way (a shadow over half the page) the ink is what stands out of its background."""
    invert = med - lo > hi - med
    if not invert and not clean and max(work.shape) >= MIN_LINED_SIDE and _broad_light(work):
        # a shadow over most of a photo makes the dark paper the majority; the lit paper is no ink
        # (a canvas, which has no pixel noise, may well be thick white strokes on black)
        return True, _background(work, True, clean)
    if min(med - lo, hi - med) > AMBIGUOUS * (hi - lo):
        dark, light = _background(work, True, clean), _background(work, False, clean)
        out_dark = percentile(dark - work, 99.98)  # a small digit may be 0.05% of the page
        out_light = percentile(work - light, 99.98)
        return bool(out_dark > out_light), dark if out_dark > out_light else light
    return bool(invert), _background(work, bool(invert), clean)


def _broad_light(work: np.ndarray) -> bool:
    """Whether the light side of a global Otsu split, where it reaches the frame, is too broad for
    strokes: lit paper runs out of the picture, a bold chalk digit stands inside it."""
    light = work > otsu(np.bincount(work.ravel(), minlength=256))
    comps = components(light)
    labels = comps.labels
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    outer = comps.select(edge[edge > 0])
    return stroke_width(outer) > BROAD_LIGHT * max(work.shape)


def _background(work: np.ndarray, invert: bool, clean: bool) -> np.ndarray:
    """(h, w) float32 paper level in gray units, flat when it barely varies.

    The lower (dark ink) or upper envelope of two estimates: a median over a coarse grid, which
    follows vignetting up to the borders and ignores paper texture but blurs a shadow's edge, and a
    grey closing (opening) by a window wider than any stroke at working scale, which keeps that edge
    sharp but rides on the texture's peaks. `clean` (no pixel noise): look for flat paper first.
    """
    flat = _flat_paper(work, invert) if clean else None
    if flat is not None:  # a canvas or a clean scan: thick strokes must not leak into a local estimate
        # (`_flat_paper` says which noise-free images those are)
        return np.full(work.shape, flat, np.float32)
    step = max(1, round(max(work.shape) / BG_SIDE))
    small = np.asarray(Image.fromarray(np.ascontiguousarray(work)).reduce(step)) if step > 1 else work
    k = max(round(BG_WINDOW * max(small.shape)), 2 * MIN_STROKE_WINDOW // step) | 1
    coarse = median_filter(small, k)
    if int(coarse.max()) - int(coarse.min()) < FLAT_BACKGROUND:  # a canvas or a scan: no shadow either
        return np.full(work.shape, median(coarse), np.float32)
    coarse = resize(coarse, (work.shape[1], work.shape[0]), Image.Resampling.BILINEAR)
    window = max(MIN_STROKE_WINDOW, round(STROKE_WINDOW * max(work.shape)))
    fine = (grey_close if invert else grey_open)(np.ascontiguousarray(work), window)
    return (np.minimum(coarse, fine) if invert else np.maximum(coarse, fine)).astype(np.float32)


def _flat_paper(work: np.ndarray, invert: bool) -> float | None:
    """The paper level when the paper side of a global Otsu split is flat, else None (only asked of
    images without pixel noise: canvases, clean scans, and smooth photos, which it turns away).

    Judged on the paper's own pixels, so a drawing whose strokes fill most of a median window (thick
    pen on a 280-px canvas) is still seen as ink on flat paper. Photos mostly carry sensor noise and
    go through the local estimate, which follows shadows; a smooth one without noise is told apart
    here by its Otsu split falling inside the paper's own shading."""
    hist = np.bincount(work.ravel(), minlength=256)
    paper, t = _paper_side(hist, invert)
    if paper.sum() < 0.3 * hist.sum():
        return None
    if stroke_width(work <= t if invert else work > t) > STROKE_WINDOW * max(work.shape):
        return None  # the "ink" side is too broad for strokes: a cast shadow over part of the page
    # the anti-aliased rims of the strokes fall on the paper side too: flat means most of it at one level
    mode = int(np.argmax(paper))
    near = paper[max(mode - FLAT_BACKGROUND // 2, 0):mode + FLAT_BACKGROUND // 2 + 1].sum()
    # ... and the other side is ink, well apart from the paper: in a smooth photo without pixel noise
    # (a large JPEG decoded at half size) the split falls inside the paper's own shading
    other = hist - paper
    ink = percentiles(other, (0.5,))[0]
    return float(mode) if near >= FLAT_SHARE * paper.sum() and abs(mode - ink) >= INK_GAP else None


def uniform_paper(work: np.ndarray, invert: bool) -> np.ndarray:
    """One paper level for the whole page, the commonest on the paper side of a global Otsu split (a
    second look for bold strokes that fill the local estimate's windows)."""
    hist = np.bincount(work.ravel(), minlength=256)
    return np.full(work.shape, float(np.argmax(_paper_side(hist, invert)[0])), np.float32)


def _paper_side(hist: np.ndarray, invert: bool) -> tuple[np.ndarray, float]:
    """The histogram's paper side of a global Otsu split (the light side for dark ink), and the split."""
    paper = hist.copy()
    t = otsu(hist)
    if invert:
        paper[:int(t) + 1] = 0
    else:
        paper[int(t) + 1:] = 0
    return paper, t


def foreground(gray: np.ndarray, bg: np.ndarray, invert: bool) -> np.ndarray:
    """(h, w) float32 ink strength in gray levels (0 = paper). Dark ink is measured against the paper
    by division -- reflectance times light, so a shadow dims ink and paper alike -- light ink on a
    dark ground by subtraction."""
    g = gray.astype(np.float32)
    if invert:
        return np.clip(255.0 * (1.0 - g / np.maximum(bg, 1.0)), 0.0, 255.0)
    return np.clip(g - bg, 0.0, 255.0)


def noise_sigma(work: np.ndarray) -> float:
    """Gray levels of pixel noise: robust spread of horizontal neighbour differences."""
    diff = np.abs(np.diff(work.astype(np.int16), axis=1)).astype(np.uint8)
    mad = percentiles(np.bincount(diff.ravel(), minlength=256), (0.5,))[0]
    return mad / (0.6745 * np.sqrt(2.0))


def otsu(hist: np.ndarray) -> float:
    """Otsu's threshold of a 256-bin histogram (maximises the between-class variance)."""
    p = hist.astype(np.float64) / max(hist.sum(), 1)
    omega = np.cumsum(p)
    mu = np.cumsum(p * np.arange(len(p)))
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mu[-1] * omega - mu) ** 2 / (omega * (1.0 - omega))
    return float(np.nanargmax(np.nan_to_num(between, nan=-1.0)))


def percentiles(hist: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    cdf = np.cumsum(hist) / max(hist.sum(), 1)
    return [float(np.searchsorted(cdf, q)) for q in qs]


def percentile(a: np.ndarray, q: float) -> float:
    """`float(np.percentile(a, q))` (linear interpolation, the same arithmetic bit for bit) without
    numpy's general machinery, a quarter of the cost: an answer takes half a dozen of these."""
    a = np.ravel(a)
    if a.size == 0:
        raise ValueError("percentile of an empty array")
    v = (a.size - 1) * (q / 100)
    lo = int(v)
    hi = min(lo + 1, a.size - 1)
    part = np.partition(a, (lo, hi))
    x, y = part[lo], part[hi]
    t, d = v - lo, y - x
    return float(y - d * (1 - t)) if t >= 0.5 else float(x + d * t)


def median(a: np.ndarray) -> float:
    """`float(np.median(a))`, bit for bit, at half the cost (see `percentile`)."""
    a = np.ravel(a)
    n, k = a.size, a.size // 2
    if n == 0:
        return float("nan")
    if n % 2:
        return float(np.partition(a, k)[k])
    part = np.partition(a, (k - 1, k))
    x, y = part[k - 1], part[k]
    if a.dtype.kind in "biu":  # numpy averages integers in float64
        return (float(x) + float(y)) / 2
    return float((x + y) / 2)


def resize(a: np.ndarray, size: tuple[int, int], method: Image.Resampling) -> np.ndarray:
    """(h, w) -> float32 of `size` (w, h), resampled as Pillow's `method` does. Bilinear enlarging (the
    paper estimate brought to a finer scale, twice per answer) goes through OpenCV at a tenth of the
    cost: the same sample positions and weights, rounded differently, within 3.1e-5 gray levels of
    Pillow's (not bit for bit: one model-input pixel in a review's 3,000 synthetic photos moved by one
    level; no answer of the 4,700 tune images changed). A single row or column stays on Pillow,
    whose edge weights OpenCV matches less closely there."""
    if (a.shape[1], a.shape[0]) == size:
        return a.astype(np.float32, copy=False)
    if method == Image.Resampling.BILINEAR and min(a.shape) >= 2 and size[0] >= a.shape[1] \
            and size[1] >= a.shape[0]:
        return cv2.resize(a.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    return np.asarray(Image.fromarray(a.astype(np.float32), "F").resize(size, method))
