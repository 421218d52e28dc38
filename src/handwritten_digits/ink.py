"""Find the ink in a grayscale picture: polarity, background, threshold, specks, ruled and box lines.

Everything here runs on a small working copy (at most WORK_SIDE px on the long side) so that a photo
costs a few milliseconds; `Ink.crop` then cuts the chosen ink out of the full-resolution image,
anti-aliased, with the background removed and the contrast normalised to [0, 1].
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from scipy import ndimage

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
NOISE_SIGMAS = 5.0  # the threshold is at least this many robust sigmas above the background
BORDER_CONTACT = 0.06  # of the long side: ink lying along the border this far is not writing
MIN_CONTACT = 8  # px (working scale)
SPECK_FRAC = 0.02  # components smaller than this fraction of the largest are specks
MIN_SPECK = 3  # px (working scale): smaller components are always specks
LINE_FRAC = 0.08  # of the image side: straight runs at least this long are line candidates
LINE_OVERHANG = 0.1  # of the other ink's extent: a line sticks out this far on both sides of it
MIN_LINED_SIDE = 64  # px: smaller images are tiles, never photographed ruled paper or forms
LINE_ASPECT = 8  # a line is at least this many times longer than thick
LINE_WOBBLE = 1.5  # px (working scale): a printed line's middle strays no further from straight
RULING_PERCENTILE = 10  # of a row's (column's) ink strength: high only where a line runs through all of it
RULED_LINES = 3  # lines across the whole image: this many make ruled or squared paper ...
RULE_THICK, RULE_THICK_FRAC = 4, 0.025  # ... when none is thicker than this (px, of the side) ...
RULE_EVEN = 0.5  # ... and the gaps between them vary by at most this fraction of their mean
MIN_FRAME = 10  # px (working scale): smaller components are never a printed box around a digit
FRAME_SIDE = 0.9  # of each side of its bounding box: inked this much, a component is a closed box
FRAME_MARGIN = 0.15  # of its size: a box is empty this far inside its sides
BOX_SIDE = 0.8  # of the digit's extent along it: a box side (or ruled line) is at least this long
LINE_SPAN = 0.9  # of the image side: a line this long is ruling; shorter ones must make a box
SMALL_MASK = 24  # px (working scale): ink this small has its fill measured at full resolution
PIECE_REACH = 0.3  # of the main component's size: pieces this close belong to the same digit
PIECE_FRAC = 0.06  # pieces smaller than this fraction of the main component are dropped
EIGHT = np.ones((3, 3), bool)


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
        sl = _bbox(mask, pad=2)
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
        tight = _bbox(fg > 0)
        return None if tight is None else fg[tight]

    def shape(self, mask: np.ndarray) -> Shape:
        """Statistics of the ink under `mask` that tell a digit from a dot, a line or a picture."""
        sl = _bbox(mask)
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
            box = None if solid is None else _bbox(solid)
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
        sl = _bbox(mask)
        if sl is None:
            return [0, 0, 0, 0]
        k = self.step * self.factor
        y, x = sl[0].start * k, sl[1].start * k
        return [round(x), round(y), round(sl[1].stop * k - x), round(sl[0].stop * k - y)]


def find_ink(gray: np.ndarray, factor: float = 1.0) -> Ink:
    """Locate the ink in (H, W) uint8 `gray`; `ink.mask` is None when the image is blank."""
    side = WORK_SIDE_LARGE if max(gray.shape) * factor >= LARGE_INPUT else WORK_SIDE
    step = max(1, -(-max(gray.shape) // side))
    work = np.asarray(Image.fromarray(gray).reduce(step)) if step > 1 else gray
    # 0.01% tails: a small digit in a large photo is 0.02% of the working copy
    lo, med, hi = _percentiles(np.bincount(work.ravel(), minlength=256), (0.0001, 0.5, 0.9999))
    if step > 1 and side == WORK_SIDE_LARGE:  # a large photo, where a digit may be small and its
        # pen a pixel wide: keep the inkiest pixel of each block rather than the mean, which fades it
        work = _pool(gray, step, darkest=med - lo > hi - med)
        lo, med, hi = _percentiles(np.bincount(work.ravel(), minlength=256), (0.0001, 0.5, 0.9999))
    ink = Ink(gray, factor, step, contrast=float(hi - lo))
    if ink.contrast < MIN_CONTRAST:
        return ink
    ink.invert, ink.bg = _polarity(work, lo, med, hi)
    fg = _foreground(work, ink.bg, ink.invert)
    if max(work.shape) >= MIN_LINED_SIDE:
        fg, ink.lines = _erase_ruling(fg)
    hist = np.bincount(fg.astype(np.uint8).ravel(), minlength=256)
    noise = NOISE_SIGMAS * _noise_sigma(work)  # gray levels
    ink.floor = _percentiles(hist, (0.25,))[0] + noise
    thr = max(_otsu(hist), ink.floor + MIN_CONTRAST / 2)
    mask = fg > thr
    if ink.invert:  # division amplifies the noise of shadowed paper: the floor rises with it there
        paper = float(np.median(ink.bg))
        mask &= fg > ink.floor + noise * (np.maximum(paper / np.maximum(ink.bg, 1.0), 1.0) - 1.0) * 2.0
    if not mask.any():
        return ink
    ink.level = float(np.percentile(fg[mask], 95))
    if ink.level - ink.floor < MIN_INK_LEVEL:
        return ink
    mask = _drop_specks(_drop_border_solids(mask))
    if max(mask.shape) >= MIN_LINED_SIDE:
        mask, framed = _remove_frames(mask)
        mask, boxed = _remove_lines(mask)
        ink.lines += framed + boxed
        if boxed:
            mask = _drop_specks(mask)
    ink.page = mask
    ink.mask, ink.boxes = _main_digit(ink.page)
    return ink


def _pool(gray: np.ndarray, step: int, darkest: bool) -> np.ndarray:
    """(H/step, W/step) min (or max) over step x step blocks; partial blocks at the edges dropped."""
    h, w = gray.shape[0] // step * step, gray.shape[1] // step * step
    blocks = gray[:h, :w].reshape(h // step, step, w // step, step)
    return blocks.min(axis=(1, 3)) if darkest else blocks.max(axis=(1, 3))


def _polarity(work: np.ndarray, lo: float, med: float, hi: float) -> tuple[bool, np.ndarray]:
    """(dark ink on light paper?, paper level). The paper is the majority, nearer the median; when the
    median sits mid-way (a shadow over half the page) the ink is what stands out of its background."""
    invert = med - lo > hi - med
    if min(med - lo, hi - med) > AMBIGUOUS * (hi - lo):
        dark, light = _background(work, True), _background(work, False)
        out_dark = np.percentile(dark - work, 99.98)  # a small digit may be 0.05% of the page
        out_light = np.percentile(work - light, 99.98)
        return bool(out_dark > out_light), dark if out_dark > out_light else light
    return bool(invert), _background(work, bool(invert))


def _background(work: np.ndarray, invert: bool) -> np.ndarray:
    """(h, w) float32 paper level in gray units, flat when it barely varies.

    The lower (dark ink) or upper envelope of two estimates: a median over a coarse grid, which
    follows vignetting up to the borders and ignores paper texture but blurs a shadow's edge, and a
    grey closing (opening) by a window wider than any stroke at working scale, which keeps that edge
    sharp but rides on the texture's peaks.
    """
    flat = _flat_paper(work, invert)
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
    """The paper level of a clean digital image (no pixel noise, flat paper side of a global Otsu
    split), else None.

    Judged on the paper's own pixels, so a drawing whose strokes fill most of a median window (thick
    pen on a 280-px canvas) is still seen as ink on flat paper; photos always carry sensor noise and
    go through the local estimate, which follows shadows."""
    if _noise_sigma(work) > CLEAN_NOISE:
        return None
    hist = np.bincount(work.ravel(), minlength=256)
    t = _otsu(hist)
    paper = hist.copy()
    if invert:
        paper[: int(t) + 1] = 0
    else:
        paper[int(t) + 1:] = 0
    if paper.sum() < 0.3 * hist.sum():
        return None
    dark = work <= t if invert else work > t
    b = np.pad(dark, 1)
    edges = np.count_nonzero(b[:, 1:] != b[:, :-1]) + np.count_nonzero(b[1:, :] != b[:-1, :])
    if 2.0 * np.count_nonzero(dark) / max(edges, 1) > STROKE_WINDOW * max(work.shape):
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


def _erase_ruling(fg: np.ndarray) -> tuple[np.ndarray, int]:
    """Subtract printed lines that run across the whole image (ruled or squared paper) from the ink
    strength: such a line is ink in nearly every pixel of its row or column, a digit never is, so a
    low percentile along each row and column measures the line alone -- however faint or broken up
    by the threshold it would be -- and the digit's own ink where it crosses the line survives."""
    rows = _low(fg, axis=1)
    cols = _low(fg, axis=0)
    # ruled or squared paper has many thin, evenly spaced lines (and may add a margin line the other
    # way); one or two lines are a form's box, left to `_remove_lines`, and the upright strokes of a
    # tightly cropped 1111 are thick or uneven
    counts = [ndimage.label(p > MIN_CONTRAST / 2)[1] for p in (rows, cols)]
    if not (_ruled(rows) or _ruled(cols)):
        return fg, 0
    return np.clip(fg - rows[:, None] - cols[None, :], 0.0, None), sum(counts)


def _ruled(profile: np.ndarray) -> bool:
    """Whether a row (column) profile holds ruled lines: RULED_LINES or more, thin, evenly spaced."""
    labels, n = ndimage.label(profile > MIN_CONTRAST / 2)
    if n < RULED_LINES:
        return False
    sl = ndimage.find_objects(labels)
    widths = np.array([s[0].stop - s[0].start for s in sl])
    centres = np.array([(s[0].start + s[0].stop) / 2 for s in sl])
    gaps = np.diff(centres)
    thin = widths.max() <= max(RULE_THICK, RULE_THICK_FRAC * len(profile))
    even = gaps.std() <= RULE_EVEN * gaps.mean()
    return bool(thin and even)


def _low(a: np.ndarray, axis: int) -> np.ndarray:
    """The RULING_PERCENTILE-th value along `axis` (a partial sort: this runs on every image)."""
    k = int(RULING_PERCENTILE / 100 * (a.shape[axis] - 1))
    return np.take(np.partition(a, k, axis=axis), k, axis=axis)


def _remove_frames(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Delete closed printed boxes around a digit: a component whose bounding box is inked along
    nearly all of its four sides, empty inside, and holding other ink there. A hand-drawn 0 touches
    its box only at four points; a box line touched by the digit is left to `_remove_lines`."""
    labels, n = ndimage.label(mask, EIGHT)
    out, count = mask, 0
    for i, sl in enumerate(ndimage.find_objects(labels), 1):
        comp = labels[sl] == i
        h, w = comp.shape
        if min(h, w) < MIN_FRAME:
            continue
        sides = (comp[:2].any(0).mean(), comp[-2:].any(0).mean(), comp[:, :2].any(1).mean(),
                 comp[:, -2:].any(1).mean())
        my, mx = max(2, round(FRAME_MARGIN * h)), max(2, round(FRAME_MARGIN * w))
        if min(sides) < FRAME_SIDE or comp[my:-my, mx:-mx].any():
            continue
        inside = (slice(sl[0].start + my, sl[0].stop - my), slice(sl[1].start + mx, sl[1].stop - mx))
        if not (mask[inside] & (labels[inside] != i)).any():  # nothing in it: not a frame around a digit
            continue
        out = out & (labels != i)
        count += 4
    return out, count


def _remove_lines(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Delete long thin horizontal/vertical runs (ruled paper, grids, form boxes), keep the digit."""
    h, w = mask.shape
    lh, lv = max(12, round(LINE_FRAC * w)), max(12, round(LINE_FRAC * h))
    # thicken across the line first so a slightly tilted line still holds a straight run
    horiz = _long_runs(ndimage.maximum_filter1d(mask, 3, axis=0), lh, axis=1) & mask
    vert = _long_runs(ndimage.maximum_filter1d(mask, 3, axis=1), lv, axis=0) & mask
    # without runs both ways there are no box corners, and only a run across the image is a line
    if not (horiz.any() and vert.any()) and \
            np.count_nonzero(horiz.any(0)) < LINE_SPAN * w and np.count_nonzero(vert.any(1)) < LINE_SPAN * h:
        return mask, 0
    horiz, vert = _straight_only(horiz, 1), _straight_only(vert, 0)  # the corners a box side
    if not horiz.any() and not vert.any():  # needs are printed lines too, not a digit's strokes
        return mask, 0
    rest = _drop_specks(mask & ~horiz & ~vert, frac=0.2)
    rs = _bbox(rest)
    if rs is None:  # nothing but lines: leave them for the abstention rules
        return mask, 0
    # a box's sides span the digit they enclose: shorter runs are the digit's own straight strokes
    horiz = _longer_than(horiz, BOX_SIDE * (rs[1].stop - rs[1].start), 1)
    vert = _longer_than(vert, BOX_SIDE * (rs[0].stop - rs[0].start), 0)
    removed = np.zeros_like(mask)
    count = 0
    for cand, other, along in ((horiz, vert, 1), (vert, horiz, 0)):
        lo, hi = rs[along].start, rs[along].stop
        reach = max(2.0, LINE_OVERHANG * (hi - lo))
        labels, n = ndimage.label(cand, EIGHT)
        for i, sl in enumerate(ndimage.find_objects(labels), 1):
            a, b = sl[along].start, sl[along].stop
            piece = labels[sl] == i
            thin = piece.sum() * LINE_ASPECT <= (b - a) * (b - a) and _straight(piece, along)
            outside = a <= lo - reach and b >= hi + reach  # sticks out on both sides of the digit
            spans = b - a >= LINE_SPAN * mask.shape[along]  # ruled or grid paper
            # a side of a form box beside the digit (the comb's other cells) need not stick out
            across = sl[1 - along]
            beside = across.stop <= rs[1 - along].start + 1 or across.start >= rs[1 - along].stop - 1
            ruled = outside and (spans or _corners(sl, other, along, open_ends=True))
            if thin and (ruled or beside and _corners(sl, other, along)):
                removed[sl] |= piece
                count += 1
    if not count:
        return mask, 0
    kept = mask & ~removed
    # give back the digit's pixels under a line: ink on both sides of it, across the line
    bridge_v = ndimage.binary_closing(kept, np.ones((9, 1), bool)) & removed
    bridge_h = ndimage.binary_closing(kept, np.ones((1, 9), bool)) & removed
    log.debug("removed %d line(s)", count)
    return kept | bridge_v | bridge_h, count


def _longer_than(cand: np.ndarray, length: float, along: int) -> np.ndarray:
    labels, n = ndimage.label(cand, EIGHT)
    if n == 0:
        return cand
    keep = np.zeros(n + 1, bool)
    for i, sl in enumerate(ndimage.find_objects(labels), 1):
        keep[i] = sl[along].stop - sl[along].start >= length
    return keep[labels]


def _straight_only(cand: np.ndarray, along: int) -> np.ndarray:
    labels, n = ndimage.label(cand, EIGHT)
    if n == 0:
        return cand
    keep = np.zeros(n + 1, bool)
    for i, sl in enumerate(ndimage.find_objects(labels), 1):
        keep[i] = _straight(labels[sl] == i, along)
    return keep[labels]


def _straight(piece: np.ndarray, along: int) -> bool:
    """Whether a run of ink is straight, as printed lines are even when tilted or seen in perspective:
    its middle across the line stays within LINE_WOBBLE px of a straight fit (the arc of a 0 does not)."""
    across = np.nonzero(piece)[1 - along].astype(np.float64)
    pos = np.nonzero(piece)[along].astype(np.float64)
    if len(np.unique(pos)) < 3:
        return True
    centres = np.bincount(pos.astype(int), weights=across) / np.maximum(np.bincount(pos.astype(int)), 1)
    keep = np.bincount(pos.astype(int)) > 0
    x, y = np.nonzero(keep)[0].astype(np.float64), centres[keep]
    fit = np.polyval(np.polyfit(x, y, 1), x)
    return float(np.abs(y - fit).max()) <= LINE_WOBBLE


def _long_runs(mask: np.ndarray, length: int, axis: int) -> np.ndarray:
    """Pixels in straight runs of at least `length` along `axis` (a binary opening by a line)."""
    structure = np.zeros((3, 3), bool)
    structure[1, :] = axis == 1
    structure[:, 1] |= axis == 0
    labels, n = ndimage.label(mask, structure)
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return (sizes >= length)[labels]


def _corners(sl: tuple[slice, slice], other: np.ndarray, along: int, tol: int = 3,
             open_ends: bool = False) -> bool:
    """Whether a perpendicular line meets this one at both ends, as the sides of a box do; with
    `open_ends`, one end at the image border counts too (the box goes on beyond the frame)."""
    ys, xs = sl
    ends = ((xs.start, xs.start), (xs.stop - 1, xs.stop - 1)) if along == 1 else \
        ((ys.start, ys.start), (ys.stop - 1, ys.stop - 1))
    for end, _ in ends:
        if open_ends and (end <= tol or end >= other.shape[along] - 1 - tol):
            open_ends = False  # one end may leave the frame, not both (that is `spans`' case)
            continue
        if along == 1:
            win = other[max(ys.start - tol, 0):ys.stop + tol, max(end - tol, 0):end + tol + 1]
        else:
            win = other[max(end - tol, 0):end + tol + 1, max(xs.start - tol, 0):xs.stop + tol]
        if not win.any():
            return False
    return True


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
    # lying along a side means touching it longer than reaching away from it (a stroke that
    # leaves the frame reaches far in, a wedge of table does not)
    for edge, reach in ((labels[0], heights), (labels[-1], heights), (labels[:, 0], widths),
                        (labels[:, -1], widths)):
        touch = np.bincount(edge, minlength=n + 1)
        touch[0] = 0
        contact += touch
        along |= (touch >= least) & (touch >= reach)
    if not along.any():
        return mask
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    real = np.arange(n + 1) > 0
    inner = (contact == 0) & (areas >= MIN_SPECK) & real
    if not inner.any() or areas[inner].max() < SPECK_FRAC * areas[real & ~along].max():
        return mask  # no writing off the border: the border ink is the writing
    return mask & ~along[labels]


def _drop_specks(mask: np.ndarray, frac: float = SPECK_FRAC) -> np.ndarray:
    labels, n = ndimage.label(mask, EIGHT)
    if n == 0:
        return mask
    areas = np.bincount(labels.ravel())
    areas[0] = 0
    big = areas >= max(MIN_SPECK, frac * areas.max())
    return big[labels]


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


def _bbox(mask: np.ndarray, pad: int = 0) -> tuple[slice, slice] | None:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if not len(rows):
        return None
    return (slice(max(rows[0] - pad, 0), min(rows[-1] + 1 + pad, mask.shape[0])),
            slice(max(cols[0] - pad, 0), min(cols[-1] + 1 + pad, mask.shape[1])))


def _resize(a: np.ndarray, size: tuple[int, int], method: Image.Resampling) -> np.ndarray:
    if (a.shape[1], a.shape[0]) == size:
        return a.astype(np.float32, copy=False)
    return np.asarray(Image.fromarray(a.astype(np.float32), "F").resize(size, method))
