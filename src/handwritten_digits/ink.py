"""Find the ink in a grayscale picture: threshold, specks, border ink, the main digit (which side is
ink and the paper's level are `handwritten_digits.paper`'s business).

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

from handwritten_digits.boxes import remove_frames, strip_box_sides
from handwritten_digits.combs import remove_combs
from handwritten_digits.lines import MIN_LINED_SIDE, erase_ruling, horizontal_runs, remove_lines
from handwritten_digits.masks import (
    MIN_SPECK,
    SPECK_FRAC,
    Components,
    bbox,
    components,
    count,
    drop_specks,
    enclosed,
    label,
    thinness,
)
from handwritten_digits.morph import grow
from handwritten_digits.paper import (
    CLEAN_NOISE,
    foreground,
    median,
    noise_sigma,
    otsu,
    percentile,
    percentiles,
    polarity,
    resize,
    tails,
    uniform_paper,
)

log = logging.getLogger(__name__)

WORK_SIDE = 256  # px: long side of the working copy used to locate the ink ...
WORK_SIDE_LARGE = 512  # ... of inputs this large (input px), where a digit may be 1.5% of the side
LARGE_INPUT = 1400
MIN_CONTRAST = 24  # gray levels: less than this between paper and ink is a blank image
MIN_INK_LEVEL = 16  # gray levels above the paper's noise floor: fainter ink (even pencil) is no ink
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
    spans: bool = False  # touches two opposite borders of the image, or cuts across a corner of it
    page_components: int = 0  # significant components in the whole image
    extent: float = 0.0  # of the image side: the larger of height and width fraction
    solid: float = 0.0  # of the contrast: how far the background under the ink departs from the
    # paper around it -- a digit's inside is paper, a photographed object's is not
    holes: float = 0.0  # enclosed paper, as a fraction of the ink's area (an 8 has two holes, a dot none)
    sunk: float = 0.0  # of the contrast: how far the paper estimate sank under the ink's own pixels (a
    # tenth of them sank at least this far): bold strokes that filled its windows


@dataclass
class Ink:
    """Where the ink is. Masks are at working scale; `gray` is the full-resolution image."""

    gray: np.ndarray  # (H, W) uint8 as decoded (at most FULL_SIDE px)
    factor: float = 1.0  # input-image pixels per `gray` pixel (JPEG draft / thumbnail)
    step: int = 1  # `gray` pixels per working pixel
    pooled: bool = False  # the working copy kept each block's inkiest pixel (else its mean)
    contrast: float = 0.0  # gray levels between paper and ink
    noise: float = 0.0  # robust sigma of the working copy's pixel noise, gray levels
    invert: bool = False  # dark ink on light paper
    bg: np.ndarray | None = None  # (h, w) float32 paper level at working scale, gray units
    floor: float = 0.0  # gray levels above background still counted as paper
    level: float = 255.0  # gray levels above background that count as full ink
    page: np.ndarray | None = None  # (h, w) bool: all significant ink, lines removed
    parts: Components | None = None  # the page's connected components
    mask: np.ndarray | None = None  # (h, w) bool: the ink of the most prominent digit
    lines: int = 0  # ruled / box lines removed
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # page components, x y w h

    def crop(self, mask: np.ndarray) -> np.ndarray | None:
        """(h, w) float32 in [0, 1]: the ink under `mask`, full resolution, tight around it."""
        sl = bbox(mask, pad=2)
        if sl is None or self.bg is None:
            return None
        near = grow(mask[sl], 2)  # keep the anti-aliased rim
        if self.page is not None:  # ... but not the rim of a neighbour (the next digit of a number)
            others = self.page[sl] & ~mask[sl]
            if others.any():
                near &= ~grow(others, 1) | mask[sl]
        s = self.step
        ys, xs = sl
        y0, y1 = ys.start * s, min(ys.stop * s, self.gray.shape[0])
        x0, x1 = xs.start * s, min(xs.stop * s, self.gray.shape[1])
        size = (x1 - x0, y1 - y0)
        bg = resize(self.bg[sl], size, Image.Resampling.BILINEAR)
        v = foreground(self.gray[y0:y1, x0:x1], bg, self.invert)
        soft = _upscale(near, s, size)
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
        H, W = mask.shape
        touches = bool(sl[0].start == 0 and sl[0].stop == H or sl[1].start == 0 and sl[1].stop == W
                       or _across_corner(mask, max(h, w)))
        fill = area / (h * w)
        if max(h, w) < SMALL_MASK and self.step > 1:  # strokes of a small digit merge at working
            crop = self.crop(mask)  # scale: judge its fill at full resolution, where they do not
            solid = None if crop is None else crop > 0.5
            box = None if solid is None else bbox(solid)
            if box is not None:
                fill = float(np.count_nonzero(solid)) / solid[box].size
        solid, sunk = self._sinking(mask, sl)
        return Shape(area / mask.size, fill, w / h, count(mask), thinness(mask[sl]), touches,
                     len(self.boxes), max(h / H, w / W), solid, enclosed(mask[sl]) / max(area, 1), sunk)

    def _sinking(self, mask: np.ndarray, sl: tuple[slice, slice], pad: int = 3) -> tuple[float, float]:
        """How far the background departs from the paper in a ring around the box, as fractions of the
        contrast: under the box (its median) and under the ink's own pixels (the most departed tenth)."""
        if self.bg is None or self.contrast <= 0:
            return 0.0, 0.0
        ys, xs = sl
        y0, x0 = max(ys.start - pad, 0), max(xs.start - pad, 0)
        around = self.bg[y0:ys.stop + pad, x0:xs.stop + pad]
        ring = np.ones(around.shape, bool)
        ring[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0] = False
        if not ring.any():
            return 0.0, 0.0
        inside, under = median(self.bg[sl]), self.bg[mask]
        if self.invert:  # dark ink: an object darker than the darkest tenth of the paper around it
            paper = percentile(around[ring], 10)
            box, strokes = paper - inside, paper - percentile(under, 10)
        else:
            paper = percentile(around[ring], 90)
            box, strokes = inside - paper, percentile(under, 90) - paper
        return max(0.0, box) / self.contrast, max(0.0, strokes) / self.contrast

    def box(self, mask: np.ndarray) -> list[int]:
        """[x, y, w, h] of `mask` in the input image's pixels."""
        sl = bbox(mask)
        if sl is None:
            return [0, 0, 0, 0]
        k = self.step * self.factor
        y, x = sl[0].start * k, sl[1].start * k
        return [round(x), round(y), round(sl[1].stop * k - x), round(sl[0].stop * k - y)]


def find_ink(gray: np.ndarray, factor: float = 1.0, work_side: int = WORK_SIDE, pool: bool = False,
             flat: bool | None = None) -> Ink:
    """Locate the ink in (H, W) uint8 `gray`; `ink.mask` is None when the image is blank.
    `work_side`: long side of the working copy (finer for a number, whose digits are small).
    `pool`: shrink by keeping each block's inkiest pixel, as for a large photo, whatever the size:
    a pen a pixel or two wide fades into a 3x3 block's mean (printed box lines survive it too, so this
    is a second look, not the first). `flat`: take the paper as one level (`paper.uniform_paper`) under
    ink of this polarity (True: dark ink, as `Ink.invert`), a first look's."""
    large = max(gray.shape) * factor >= LARGE_INPUT
    side = max(work_side, WORK_SIDE_LARGE) if large else work_side
    step = max(1, -(-max(gray.shape) // side))
    pooled = step > 1 and (large or pool)
    if pooled:  # a large photo, where a digit may be small and its pen a pixel wide: keep the
        # inkiest pixel of each block rather than the mean, which fades it. Which is the ink is
        # decided on the pooled copies themselves: in the block means a faint small digit does not
        # stand out of the paper's grain either way
        dark, light = _pool(gray, step, darkest=True), _pool(gray, step, darkest=False)
        dark_tails, light_tails = tails(dark), tails(light)
        dlo, dmed, _ = dark_tails
        _, lmed, lhi = light_tails
        work, (lo, med, hi) = (dark, dark_tails) if dmed - dlo > lhi - lmed else (light, light_tails)
    else:
        work = np.asarray(Image.fromarray(gray).reduce(step)) if step > 1 else gray
        lo, med, hi = tails(work)
    ink = Ink(gray, factor, step, contrast=float(hi - lo), pooled=pooled)
    if ink.contrast < MIN_CONTRAST:
        return ink
    sigma = ink.noise = noise_sigma(work)  # gray levels
    if flat is None:
        ink.invert, ink.bg = polarity(work, lo, med, hi, clean=sigma <= CLEAN_NOISE)
    else:
        ink.invert, ink.bg = flat, uniform_paper(work, flat)
    fg = foreground(work, ink.bg, ink.invert)
    if max(work.shape) >= MIN_LINED_SIDE:
        fg, ink.lines = erase_ruling(fg)
    hist = np.bincount(fg.astype(np.uint8).ravel(), minlength=256)
    noise = NOISE_SIGMAS * sigma
    ink.floor = percentiles(hist, (0.25,))[0] + noise
    thr = max(otsu(hist), ink.floor + MIN_CONTRAST / 2)
    strong = fg > thr
    weak = fg > max(ink.floor, HYSTERESIS * thr)
    if ink.invert:  # division amplifies the noise of shadowed paper: the floor rises with it there
        paper = median(ink.bg)
        weak &= fg > ink.floor + noise * (np.maximum(paper / np.maximum(ink.bg, 1.0), 1.0) - 1.0) * 2.0
    mask = strong & weak
    if not mask.any():
        return ink
    ink.level = percentile(fg[mask], 95)
    if ink.level < FAINT_INK:  # pencil: fainter pixels joined to sure ink are ink
        # too (the light end of a stroke), never on their own. Not for pen: its faint rims would
        # join a digit to a box or to its neighbours
        labels, _ = label(weak)
        hit = np.zeros(labels.max() + 1, bool)
        hit[labels[mask]] = True
        hit[0] = False
        mask = hit[labels]
        ink.level = percentile(fg[mask], 95)
    if ink.level - ink.floor < MIN_INK_LEVEL:
        return ink
    mask = drop_specks(_drop_border_solids(mask))
    if max(mask.shape) >= MIN_LINED_SIDE:
        horiz = horizontal_runs(mask)
        mask, combed = remove_combs(mask, horiz)
        mask, framed = remove_frames(mask)
        mask, boxed = remove_lines(mask, None if combed or framed else horiz)
        mask, sides = strip_box_sides(mask)
        ink.lines += combed + framed + boxed + sides
        if combed or boxed or sides:
            mask = drop_specks(mask)
    ink.page, ink.parts = mask, components(mask)
    ink.mask, ink.boxes = _main_digit(ink.parts)
    return ink


def _across_corner(mask: np.ndarray, extent: int) -> bool:
    """Whether the ink meets two borders of the image at places at least half its extent apart, as a
    line cutting across a corner does (a stroke that ends in a corner meets both borders there)."""
    h, w = mask.shape
    met = []
    for edge, at in ((mask[0], lambda i: (0.0, i)), (mask[-1], lambda i: (h - 1.0, i)),
                     (mask[:, 0], lambda i: (i, 0.0)), (mask[:, -1], lambda i: (i, w - 1.0))):
        where = np.flatnonzero(edge)
        if len(where):
            met.append(at(float(where.mean())))
    return any(np.hypot(a[0] - b[0], a[1] - b[1]) >= 0.5 * extent
               for k, a in enumerate(met) for b in met[k + 1:])


def _upscale(mask: np.ndarray, step: int, size: tuple[int, int]) -> np.ndarray:
    """(h, w) bool at working scale -> float32 of `size` (w, h): each pixel a step x step block
    (Pillow's nearest resize, which a block copy matches when the size is a whole multiple)."""
    if size != (mask.shape[1] * step, mask.shape[0] * step):  # cut short by the image's edge
        return resize(mask.astype(np.float32), size, Image.Resampling.NEAREST)
    return np.repeat(np.repeat(mask, step, axis=0), step, axis=1).astype(np.float32)


def _pool(gray: np.ndarray, step: int, darkest: bool) -> np.ndarray:
    """(H/step, W/step) min (or max) over step x step blocks; partial blocks at the edges dropped."""
    h, w = gray.shape[0] // step * step, gray.shape[1] // step * step
    blocks = gray[:h, :w].reshape(h // step, step, w // step, step)
    return blocks.min(axis=(1, 3)) if darkest else blocks.max(axis=(1, 3))


def _main_digit(comps: Components) -> tuple[np.ndarray | None, list[tuple[int, int, int, int]]]:
    """The largest component of the page plus the nearby pieces of the same digit; all component
    boxes."""
    if comps.n == 0:
        return None, []
    areas = comps.areas[1:]
    boxes = [(s[1].start, s[0].start, s[1].stop - s[1].start, s[0].stop - s[0].start) for s in comps.boxes]
    main = int(np.argmax(areas))
    x, y, w, h = boxes[main]
    r = PIECE_REACH * max(w, h)
    keep = [main]
    for i, (bx, by, bw, bh) in enumerate(boxes):
        near = bx < x + w + r and bx + bw > x - r and by < y + h + r and by + bh > y - r
        if i != main and near and areas[i] >= PIECE_FRAC * areas[main]:
            keep.append(i)
    return comps.select(np.asarray(keep) + 1), boxes


def _drop_border_solids(mask: np.ndarray) -> np.ndarray:
    """Remove regions that run along the image border -- the table beyond the page's edge, a dark
    frame, a shadow's edge -- when there is writing away from the border. A stroke leaving the frame
    crosses the border over its own width; such a region lies along it for BORDER_CONTACT of the side
    or more. A tightly cropped digit or number touches the border everywhere and is all there is:
    nothing is removed then."""
    comps = components(mask)
    labels, n, boxes = comps.labels, comps.n, comps.boxes
    if n == 0:
        return mask
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
    areas = comps.areas
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
    return mask & ~comps.select(along)
