"""Find the ink in a grayscale picture: polarity, background, threshold, specks, the main digit.

Everything here runs on a small working copy (WORK_SIDE px on the long side for one digit, more for a
number or a large photo) so that a photo costs a few milliseconds; `Ink.crop` then cuts the chosen ink
out of the full-resolution image, anti-aliased, with the background removed and the contrast
normalised to [0, 1]. Printed lines
(ruled paper, form boxes) are `handwritten_digits.lines`' business.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from scipy import ndimage

from handwritten_digits.lines import (
    MIN_LINED_SIDE,
    erase_ruling,
    remove_frames,
    remove_lines,
    strip_box_sides,
)
from handwritten_digits.masks import EIGHT, MIN_SPECK, SPECK_FRAC, bbox, drop_specks, stroke_width

log = logging.getLogger(__name__)

WORK_SIDE = 256  # px: long side of the working copy used to locate the ink ...
WORK_SIDE_LARGE = 512  # ... of inputs this large (input px), where a digit may be 1.5% of the side
LARGE_INPUT = 1400
MIN_CONTRAST = 24  # gray levels: less than this between paper and ink is a blank image
MIN_INK_LEVEL = 16  # gray levels above the paper's noise floor: fainter ink (even pencil) is no ink
CLEAN_NOISE = 1.0  # gray levels of pixel noise: below this an image is digital (a canvas), not a photo
FLAT_BACKGROUND = 10  # gray levels: a background estimate varying less than this is taken as flat
FLAT_SHARE = 0.7  # of the paper's pixels: this many within FLAT_BACKGROUND of its commonest level is flat
AMBIGUOUS = 0.25  # of the gray range: a median this far from both ends does not tell the paper
BG_SIDE = 48  # px: long side of the grid on which the median estimates the paper
BG_WINDOW = 0.15  # of the long side: median window (7 px of 48); ink is a minority in it
STROKE_WINDOW = 0.15  # of the long side: closing window, wider than the strokes of a large digit
MIN_STROKE_WINDOW = 10  # px: ... and than the thick strokes of an MNIST-size tile
BROAD_LIGHT = 0.06  # of the long side: a photo's light side this wide is lit paper, not chalk strokes
HYSTERESIS = 0.6  # of the threshold: fainter pixels joined to sure ink are ink too ...
FAINT_INK = 100  # gray levels above the paper: ... when the ink is fainter than this (pencil; pen > 130)
NOISE_SIGMAS = 5.0  # the threshold is at least this many robust sigmas above the background
BORDER_CONTACT = 0.06  # of the long side: ink lying along the border this far is not writing
MIN_CONTACT = 8  # px (working scale)
CORNER_CONTACT = 0.5  # of its size: a piece in a corner touching the sides this much is table
SMALL_MASK = 24  # px (working scale): ink this small has its fill measured at full resolution
PIECE_REACH = 0.3  # of the main component's size: pieces this close belong to the same digit
PIECE_FRAC = 0.06  # pieces smaller than this fraction of the main component are dropped


@dataclass
class Shape:
    """Ink statistics of one candidate digit (all 0 when there is no ink)."""

    ink_fraction: float = 0.0  # of the image's pixels
    fill: float = 0.0  # of the ink's bounding box
    aspect: float = 0.0  # bounding box width / height
    pieces: int = 0  # connected components
    thinness: float = 0.0  # minor / major axis of the ink's spread (a straight line is ~0)
    spans: bool = False  # touches two opposite borders of the image
    page_components: int = 0  # significant components in the whole image
    extent: float = 0.0  # of the image side: the larger of height and width fraction
    solid: float = 0.0  # of the contrast: how far the background under the ink departs from the
    # paper around it -- a digit's inside is paper, a photographed object's is not
    holes: float = 0.0  # enclosed paper, as a fraction of the ink's area (an 8 has two holes, a dot none)


@dataclass
class Ink:
    """Where the ink is. Masks are at working scale; `gray` is the full-resolution image."""

    gray: np.ndarray  # (H, W) uint8 as decoded (at most FULL_SIDE px)
    factor: float = 1.0  # input-image pixels per `gray` pixel (JPEG draft / thumbnail)
    step: int = 1  # `gray` pixels per working pixel
    pooled: bool = False  # the working copy kept each block's inkiest pixel (else its mean)
    contrast: float = 0.0  # gray levels between paper and ink
    invert: bool = False  # dark ink on light paper
    bg: np.ndarray | None = None  # (h, w) float32 paper level at working scale, gray units
    floor: float = 0.0  # gray levels above background still counted as paper
    level: float = 255.0  # gray levels above background that count as full ink
    page: np.ndarray | None = None  # (h, w) bool: all significant ink, lines removed
    mask: np.ndarray | None = None  # (h, w) bool: the ink of the most prominent digit
    lines: int = 0  # ruled / box lines removed
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # page components, x y w h

    def crop(self, mask: np.ndarray) -> np.ndarray | None:
        """(h, w) float32 in [0, 1]: the ink under `mask`, full resolution, tight around it."""
        sl = bbox(mask, pad=2)
        if sl is None or self.bg is None:
            return None
        near = ndimage.binary_dilation(mask[sl], EIGHT, iterations=2)  # keep the anti-aliased rim
        if self.page is not None:  # ... but not the rim of a neighbour (the next digit of a number)
            others = self.page[sl] & ~mask[sl]
            if others.any():
                near &= ~ndimage.binary_dilation(others, EIGHT) | mask[sl]
        s = self.step
        ys, xs = sl
        y0, y1 = ys.start * s, min(ys.stop * s, self.gray.shape[0])
        x0, x1 = xs.start * s, min(xs.stop * s, self.gray.shape[1])
        size = (x1 - x0, y1 - y0)
        bg = _resize(self.bg[sl], size, Image.Resampling.BILINEAR)
        v = _foreground(self.gray[y0:y1, x0:x1], bg, self.invert)
        soft = _resize(near.astype(np.float32), size, Image.Resampling.NEAREST)
        fg = np.clip((v - self.floor) / max(self.level - self.floor, 1.0), 0.0, 1.0) * soft
        tight = bbox(fg > 0)
        return None if tight is None else fg[tight]

    def shape(self, mask: np.ndarray) -> Shape:
        """Statistics of the ink under `mask` that tell a digit from a dot, a line or a picture."""
        sl = bbox(mask)
        if sl is None:
            return Shape()
        h, w = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        area = int(np.count_nonzero(mask))
        ys, xs = np.nonzero(mask)
        ev = np.linalg.eigvalsh(np.cov(np.stack([ys, xs]).astype(np.float64))) if area > 2 else (0, 1)
        H, W = mask.shape
        touches = (sl[0].start == 0 and sl[0].stop == H) or (sl[1].start == 0 and sl[1].stop == W)
        fill = area / (h * w)
        if max(h, w) < SMALL_MASK and self.step > 1:  # strokes of a small digit merge at working
            crop = self.crop(mask)  # scale: judge its fill at full resolution, where they do not
            solid = None if crop is None else crop > 0.5
            box = None if solid is None else bbox(solid)
            if box is not None:
                fill = float(np.count_nonzero(solid)) / solid[box].size
        holes = int(np.count_nonzero(ndimage.binary_fill_holes(mask[sl]))) - int(np.count_nonzero(mask[sl]))
        return Shape(area / mask.size, fill, w / h, ndimage.label(mask, EIGHT)[1],
                     float(np.sqrt(max(ev[0], 0) / max(ev[1], 1e-9))), touches, len(self.boxes),
                     max(h / H, w / W), self._solid(sl), holes / max(area, 1))

    def _solid(self, sl: tuple[slice, slice], pad: int = 3) -> float:
        """Background under the box vs the paper in a ring around it, as a fraction of the contrast."""
        if self.bg is None or self.contrast <= 0:
            return 0.0
        ys, xs = sl
        ring = np.zeros(self.bg.shape, bool)
        ring[max(ys.start - pad, 0):ys.stop + pad, max(xs.start - pad, 0):xs.stop + pad] = True
        ring[sl] = False
        if not ring.any():
            return 0.0
        inside = float(np.median(self.bg[sl]))
        if self.invert:  # dark ink: an object darker than the darkest tenth of the paper around it
            return max(0.0, float(np.percentile(self.bg[ring], 10)) - inside) / self.contrast
        return max(0.0, inside - float(np.percentile(self.bg[ring], 90))) / self.contrast

    def box(self, mask: np.ndarray) -> list[int]:
        """[x, y, w, h] of `mask` in the input image's pixels."""
        sl = bbox(mask)
        if sl is None:
            return [0, 0, 0, 0]
        k = self.step * self.factor
        y, x = sl[0].start * k, sl[1].start * k
        return [round(x), round(y), round(sl[1].stop * k - x), round(sl[0].stop * k - y)]


def find_ink(gray: np.ndarray, factor: float = 1.0, work_side: int = WORK_SIDE, pool: bool = False
             ) -> Ink:
    """Locate the ink in (H, W) uint8 `gray`; `ink.mask` is None when the image is blank.
    `work_side`: long side of the working copy (finer for a number, whose digits are small).
    `pool`: shrink by keeping each block's inkiest pixel, as for a large photo, whatever the size:
    a pen a pixel or two wide fades into a 3x3 block's mean (printed box lines survive it too, so this
    is a second look, not the first)."""
    large = max(gray.shape) * factor >= LARGE_INPUT
    side = max(work_side, WORK_SIDE_LARGE) if large else work_side
    step = max(1, -(-max(gray.shape) // side))
    pooled = step > 1 and (large or pool)
    if pooled:  # a large photo, where a digit may be small and its pen a pixel wide: keep the
        # inkiest pixel of each block rather than the mean, which fades it. Which is the ink is
        # decided on the pooled copies themselves: in the block means a faint small digit does not
        # stand out of the paper's grain either way
        dark, light = _pool(gray, step, darkest=True), _pool(gray, step, darkest=False)
        dlo, dmed, _ = _tails(dark)
        _, lmed, lhi = _tails(light)
        work = dark if dmed - dlo > lhi - lmed else light
    else:
        work = np.asarray(Image.fromarray(gray).reduce(step)) if step > 1 else gray
    lo, med, hi = _tails(work)
    ink = Ink(gray, factor, step, contrast=float(hi - lo), pooled=pooled)
    if ink.contrast < MIN_CONTRAST:
        return ink
    sigma = _noise_sigma(work)  # gray levels
    ink.invert, ink.bg = _polarity(work, lo, med, hi, clean=sigma <= CLEAN_NOISE)
    fg = _foreground(work, ink.bg, ink.invert)
    if max(work.shape) >= MIN_LINED_SIDE:
        fg, ink.lines = erase_ruling(fg)
    hist = np.bincount(fg.astype(np.uint8).ravel(), minlength=256)
    noise = NOISE_SIGMAS * sigma
    ink.floor = _percentiles(hist, (0.25,))[0] + noise
    thr = max(_otsu(hist), ink.floor + MIN_CONTRAST / 2)
    strong = fg > thr
    weak = fg > max(ink.floor, HYSTERESIS * thr)
    if ink.invert:  # division amplifies the noise of shadowed paper: the floor rises with it there
        paper = float(np.median(ink.bg))
        weak &= fg > ink.floor + noise * (np.maximum(paper / np.maximum(ink.bg, 1.0), 1.0) - 1.0) * 2.0
    mask = strong & weak
    if not mask.any():
        return ink
    if np.percentile(fg[mask], 95) < FAINT_INK:  # pencil: fainter pixels joined to sure ink are ink
        # too (the light end of a stroke), never on their own. Not for pen: its faint rims would
        # join a digit to a box or to its neighbours
        labels, _ = ndimage.label(weak, EIGHT)
        hit = np.zeros(labels.max() + 1, bool)
        hit[labels[mask]] = True
        hit[0] = False
        mask = hit[labels]
    ink.level = float(np.percentile(fg[mask], 95))
    if ink.level - ink.floor < MIN_INK_LEVEL:
        return ink
    mask = drop_specks(_drop_border_solids(mask))
    if max(mask.shape) >= MIN_LINED_SIDE:
        mask, framed = remove_frames(mask)
        mask, boxed = remove_lines(mask)
        mask, sides = strip_box_sides(mask)
        ink.lines += framed + boxed + sides
        if boxed or sides:
            mask = drop_specks(mask)
    ink.page = mask
    ink.mask, ink.boxes = _main_digit(ink.page)
    return ink


def _tails(work: np.ndarray) -> list[float]:
    """Gray levels at 0.01%, 50% and 99.99%: a small digit in a large photo is 0.02% of the copy."""
    return _percentiles(np.bincount(work.ravel(), minlength=256), (0.0001, 0.5, 0.9999))


def _pool(gray: np.ndarray, step: int, darkest: bool) -> np.ndarray:
    """(H/step, W/step) min (or max) over step x step blocks; partial blocks at the edges dropped."""
    h, w = gray.shape[0] // step * step, gray.shape[1] // step * step
    blocks = gray[:h, :w].reshape(h // step, step, w // step, step)
    return blocks.min(axis=(1, 3)) if darkest else blocks.max(axis=(1, 3))


def _polarity(work: np.ndarray, lo: float, med: float, hi: float, clean: bool
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
        out_dark = np.percentile(dark - work, 99.98)  # a small digit may be 0.05% of the page
        out_light = np.percentile(work - light, 99.98)
        return bool(out_dark > out_light), dark if out_dark > out_light else light
    return bool(invert), _background(work, bool(invert), clean)


def _broad_light(work: np.ndarray) -> bool:
    """Whether the light side of a global Otsu split, where it reaches the frame, is too broad for
    strokes: lit paper runs out of the picture, a bold chalk digit stands inside it."""
    light = work > _otsu(np.bincount(work.ravel(), minlength=256))
    labels, _ = ndimage.label(light, EIGHT)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    outer = np.isin(labels, edge[edge > 0])
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
        return np.full(work.shape, flat, np.float32)
    step = max(1, round(max(work.shape) / BG_SIDE))
    small = np.asarray(Image.fromarray(np.ascontiguousarray(work)).reduce(step)) if step > 1 else work
    k = max(round(BG_WINDOW * max(small.shape)), 2 * MIN_STROKE_WINDOW // step) | 1
    coarse = ndimage.median_filter(small, size=k, mode="nearest")
    if int(coarse.max()) - int(coarse.min()) < FLAT_BACKGROUND:  # a canvas or a scan: no shadow either
        return np.full(work.shape, float(np.median(coarse)), np.float32)
    coarse = _resize(coarse, (work.shape[1], work.shape[0]), Image.Resampling.BILINEAR)
    morph = ndimage.grey_closing if invert else ndimage.grey_opening
    fine = morph(work, size=max(MIN_STROKE_WINDOW, round(STROKE_WINDOW * max(work.shape))), mode="nearest")
    return (np.minimum(coarse, fine) if invert else np.maximum(coarse, fine)).astype(np.float32)


def _flat_paper(work: np.ndarray, invert: bool) -> float | None:
    """The paper level when the paper side of a global Otsu split is flat, else None (only asked of
    images without pixel noise: canvases and clean scans).

    Judged on the paper's own pixels, so a drawing whose strokes fill most of a median window (thick
    pen on a 280-px canvas) is still seen as ink on flat paper; photos always carry sensor noise and
    go through the local estimate, which follows shadows."""
    hist = np.bincount(work.ravel(), minlength=256)
    t = _otsu(hist)
    paper = hist.copy()
    if invert:
        paper[: int(t) + 1] = 0
    else:
        paper[int(t) + 1:] = 0
    if paper.sum() < 0.3 * hist.sum():
        return None
    if stroke_width(work <= t if invert else work > t) > STROKE_WINDOW * max(work.shape):
        return None  # the "ink" side is too broad for strokes: a cast shadow over part of the page
    # the anti-aliased rims of the strokes fall on the paper side too: flat means most of it at one level
    mode = int(np.argmax(paper))
    near = paper[max(mode - FLAT_BACKGROUND // 2, 0):mode + FLAT_BACKGROUND // 2 + 1].sum()
    return float(mode) if near >= FLAT_SHARE * paper.sum() else None


def _foreground(gray: np.ndarray, bg: np.ndarray, invert: bool) -> np.ndarray:
    """(h, w) float32 ink strength in gray levels (0 = paper). Dark ink is measured against the paper
    by division -- reflectance times light, so a shadow dims ink and paper alike -- light ink on a
    dark ground by subtraction."""
    g = gray.astype(np.float32)
    if invert:
        return np.clip(255.0 * (1.0 - g / np.maximum(bg, 1.0)), 0.0, 255.0)
    return np.clip(g - bg, 0.0, 255.0)


def _noise_sigma(work: np.ndarray) -> float:
    """Gray levels of pixel noise: robust spread of horizontal neighbour differences."""
    diff = np.abs(np.diff(work.astype(np.int16), axis=1)).astype(np.uint8)
    mad = _percentiles(np.bincount(diff.ravel(), minlength=256), (0.5,))[0]
    return mad / (0.6745 * np.sqrt(2.0))


def _main_digit(page: np.ndarray) -> tuple[np.ndarray | None, list[tuple[int, int, int, int]]]:
    """The largest component plus the nearby pieces of the same digit; all component boxes."""
    labels, n = ndimage.label(page, EIGHT)
    if n == 0:
        return None, []
    areas = np.bincount(labels.ravel())[1:]
    slices = ndimage.find_objects(labels)
    boxes = [(s[1].start, s[0].start, s[1].stop - s[1].start, s[0].stop - s[0].start) for s in slices]
    main = int(np.argmax(areas))
    x, y, w, h = boxes[main]
    r = PIECE_REACH * max(w, h)
    keep = [main]
    for i, (bx, by, bw, bh) in enumerate(boxes):
        near = bx < x + w + r and bx + bw > x - r and by < y + h + r and by + bh > y - r
        if i != main and near and areas[i] >= PIECE_FRAC * areas[main]:
            keep.append(i)
    return np.isin(labels, np.asarray(keep) + 1), boxes


def _drop_border_solids(mask: np.ndarray) -> np.ndarray:
    """Remove regions that run along the image border -- the table beyond the page's edge, a dark
    frame, a shadow's edge -- when there is writing away from the border. A stroke leaving the frame
    crosses the border over its own width; such a region lies along it for BORDER_CONTACT of the side
    or more. A tightly cropped digit or number touches the border everywhere and is all there is:
    nothing is removed then."""
    labels, n = ndimage.label(mask, EIGHT)
    if n == 0:
        return mask
    boxes = ndimage.find_objects(labels)
    heights = np.array([0] + [b[0].stop - b[0].start for b in boxes])
    widths = np.array([0] + [b[1].stop - b[1].start for b in boxes])
    least = max(MIN_CONTACT, BORDER_CONTACT * max(mask.shape))
    along = np.zeros(n + 1, bool)
    contact = np.zeros(n + 1, int)
    touches = []
    # lying along a side means touching it longer than reaching away from it (a stroke that
    # leaves the frame reaches far in, a wedge of table does not)
    for edge, reach in ((labels[0], heights), (labels[-1], heights), (labels[:, 0], widths),
                        (labels[:, -1], widths)):
        touch = np.bincount(edge, minlength=n + 1)
        touch[0] = 0
        contact += touch
        touches.append(touch > 0)
        along |= (touch >= least) & (touch >= reach)
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    real = np.arange(n + 1) > 0
    inner = (contact == 0) & (areas >= MIN_SPECK) & real
    # a corner of the table or of the page beyond it (a tilted photo) touches two adjacent sides
    # along much of its size, where a stroke leaving the frame crosses it over its width; and it is
    # no bigger than twice the writing away from the border (a speck beside a tightly cropped digit
    # does not make the digit a corner)
    top, bottom, left, right = touches
    extent = np.maximum(heights, widths)
    writing = extent[inner].max() if inner.any() else 0
    along |= (top | bottom) & (left | right) & (contact >= np.maximum(MIN_CONTACT, CORNER_CONTACT * extent)) \
        & (extent <= 2 * writing)
    if not along.any():
        return mask
    if not inner.any() or areas[inner].max() < SPECK_FRAC * areas[real & ~along].max():
        return mask  # no writing off the border: the border ink is the writing
    return mask & ~along[labels]


def _otsu(hist: np.ndarray) -> float:
    """Otsu's threshold of a 256-bin histogram (maximises the between-class variance)."""
    p = hist.astype(np.float64) / max(hist.sum(), 1)
    omega = np.cumsum(p)
    mu = np.cumsum(p * np.arange(len(p)))
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mu[-1] * omega - mu) ** 2 / (omega * (1.0 - omega))
    return float(np.nanargmax(np.nan_to_num(between, nan=-1.0)))


def _percentiles(hist: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    cdf = np.cumsum(hist) / max(hist.sum(), 1)
    return [float(np.searchsorted(cdf, q)) for q in qs]


def _resize(a: np.ndarray, size: tuple[int, int], method: Image.Resampling) -> np.ndarray:
    if (a.shape[1], a.shape[0]) == size:
        return a.astype(np.float32, copy=False)
    return np.asarray(Image.fromarray(a.astype(np.float32), "F").resize(size, method))
