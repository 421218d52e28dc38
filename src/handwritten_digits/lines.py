"""Printed lines under handwriting: ruled and squared paper, and the lines of a form.

Ruled and squared paper is subtracted from the ink strength before thresholding (`erase_ruling`);
form lines are taken out of the thresholded mask (`remove_lines`: the sides of a box or of a comb of
cells, keeping the digit's own straight strokes; closed boxes and boxes a digit touches are `boxes`',
open combs `combs`'). All at working scale.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage

from handwritten_digits.masks import bbox, components, drop_specks
from handwritten_digits.morph import label, long_runs, thicken

log = logging.getLogger(__name__)

LINE_FRAC = 0.08  # of the image side: straight runs at least this long are line candidates
LINE_OVERHANG = 0.1  # of the other ink's extent: a line sticks out this far on both sides of it
MIN_LINED_SIDE = 64  # px: smaller images are tiles, never photographed ruled paper or forms
LINE_ASPECT = 8  # a line is at least this many times longer than thick
LINE_WOBBLE = 1.5  # px (working scale): a printed line's middle strays no further from straight
RULING_PERCENTILE = 10  # of a row's (column's) ink strength: high only where a line runs through all of it
RULE_LEVEL = 12  # gray levels of ink strength: a row (column) this inked all along holds a line
RULED_LINES = 3  # lines across the whole image: this many make ruled or squared paper ...
RULE_THICK, RULE_THICK_FRAC = 4, 0.025  # ... when none is thicker than this (px, of the side) ...
RULE_EVEN = 0.5  # ... and the gaps between them vary by at most this fraction of their mean
BOX_SIDE = 0.8  # of the digit's extent along it: a box side (or ruled line) is at least this long
LINE_SPAN = 0.9  # of the image side: a line this long is ruling; shorter ones must make a box
BRIDGE = 9  # px: ink on both sides of a removed line within this is a digit's stroke crossing it


def erase_ruling(fg: np.ndarray) -> tuple[np.ndarray, int]:
    """Subtract printed lines that run across the whole image (ruled or squared paper) from the ink
    strength: such a line is ink in nearly every pixel of its row or column, a digit never is, so a
    low percentile along each row and column measures the line alone -- however faint or broken up
    by the threshold it would be -- and the digit's own ink where it crosses the line survives."""
    rows = _low(fg, axis=1)
    cols = _low(fg, axis=0)
    # ruled or squared paper has many thin, evenly spaced lines (and may add a margin line the other
    # way); one or two lines are a form's box, left to `remove_lines`, and the upright strokes of a
    # tightly cropped 1111 are thick or uneven
    (n_rows, ruled_rows), (n_cols, ruled_cols) = _ruling(rows), _ruling(cols)
    if not (ruled_rows or ruled_cols):
        return fg, 0
    return np.clip(fg - rows[:, None] - cols[None, :], 0.0, None), n_rows + n_cols


def _ruling(profile: np.ndarray) -> tuple[int, bool]:
    """(lines in a row (column) profile, whether they are ruling: RULED_LINES or more, thin, evenly
    spaced)."""
    labels, n = label(profile > RULE_LEVEL)
    if n < RULED_LINES:
        return n, False
    sl = ndimage.find_objects(labels)
    widths = np.array([s[0].stop - s[0].start for s in sl])
    centres = np.array([(s[0].start + s[0].stop) / 2 for s in sl])
    gaps = np.diff(centres)
    thin = widths.max() <= max(RULE_THICK, RULE_THICK_FRAC * len(profile))
    even = gaps.std() <= RULE_EVEN * gaps.mean()
    return n, bool(thin and even)


def _low(a: np.ndarray, axis: int) -> np.ndarray:
    """The RULING_PERCENTILE-th value along `axis` (a partial sort: this runs on every image)."""
    k = int(RULING_PERCENTILE / 100 * (a.shape[axis] - 1))
    return np.take(np.partition(a, k, axis=axis), k, axis=axis)


def horizontal_runs(mask: np.ndarray) -> np.ndarray:
    """The mask's pixels in horizontal runs long enough to be a line (thickened across first, so a
    slightly tilted line still holds one)."""
    return long_runs(thicken(mask, axis=0), max(12, round(LINE_FRAC * mask.shape[1])), axis=1) & mask


def remove_lines(mask: np.ndarray, horiz: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Delete long thin horizontal/vertical runs (ruled paper, grids, form boxes), keep the digit.
    `horiz`: the mask's `horizontal_runs`, when the caller has them."""
    h, w = mask.shape
    # thickened across the line first so a slightly tilted line still holds a straight run
    horiz = horizontal_runs(mask) if horiz is None else horiz
    vert = long_runs(thicken(mask, axis=1), max(12, round(LINE_FRAC * h)), axis=0) & mask
    # without runs both ways there are no box corners, and only a run across the image is a line
    if not (horiz.any() and vert.any()) and \
            np.count_nonzero(horiz.any(0)) < LINE_SPAN * w and np.count_nonzero(vert.any(1)) < LINE_SPAN * h:
        return mask, 0
    # the corners a box side needs are printed lines too, not a digit's strokes (each direction's runs
    # are labelled once: the filters below keep or drop whole components)
    pieces = {along: run_pieces(horiz if along else vert) for along in (1, 0)}
    runs = {along: [(sl, band) for sl, piece in pieces[along]
                    if (band := line_band(piece, along)) is not None] for along in (1, 0)}
    # a run no longer than a perpendicular run is broad, lying across it, is that stroke's breadth
    runs = {along: [(sl, band) for sl, band in runs[along]
                    if not any(_within(sl, osl, along) for osl, _ in runs[1 - along])] for along in (1, 0)}
    if not runs[1] and not runs[0]:
        return mask, 0
    horiz, vert = _paint(runs[1], mask.shape), _paint(runs[0], mask.shape)
    rest = drop_specks(mask & ~horiz & ~vert, frac=0.2)
    rs = bbox(rest)
    if rs is None:  # nothing but lines: leave them for the abstention rules
        return mask, 0
    # a box's sides span the digit they enclose: shorter runs are the digit's own straight strokes
    for along in (1, 0):
        runs[along] = [(sl, piece) for sl, piece in runs[along]
                       if sl[along].stop - sl[along].start >= BOX_SIDE * (rs[along].stop - rs[along].start)]
    horiz, vert = _paint(runs[1], mask.shape), _paint(runs[0], mask.shape)
    removed = np.zeros_like(mask)
    count = 0
    for along, other in ((1, vert), (0, horiz)):
        lo, hi = rs[along].start, rs[along].stop
        reach = max(2.0, LINE_OVERHANG * (hi - lo))
        for sl, piece in runs[along]:
            a, b = sl[along].start, sl[along].stop
            thin = piece.sum() * LINE_ASPECT <= (b - a) * (b - a)
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
    # what is left of a removed line's run beside its band (a rim, a thicker stretch, a rule lying
    # against it) and touches no other ink is printed too: it goes with the line
    whole = _paint([(sl, piece) for along in (1, 0) for sl, piece in pieces[along]
                    if (removed[sl] & piece).any()], mask.shape)
    if (kept & whole).any():
        comps = components(kept)
        inked = np.zeros(comps.n + 1, bool)
        inked[comps.labels[kept & ~whole]] = True
        kept = comps.select(inked)
    log.debug("removed %d line(s)", count)
    return give_back(kept, removed, (0, 1)), count


def give_back(kept: np.ndarray, removed: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """`kept` with the removed line pixels a digit's stroke crosses: ink within BRIDGE px on both
    sides of them along each of `axes` (0: across a horizontal line, 1: across a vertical one)."""
    out = kept
    for axis in axes:
        across = np.ones((BRIDGE, 1) if axis == 0 else (1, BRIDGE), bool)
        out = out | ndimage.binary_closing(kept, across) & removed
    return out


def run_pieces(cand: np.ndarray) -> list[tuple[tuple[slice, slice], np.ndarray]]:
    """(box, component mask in its box) for each component of `cand`."""
    comps = components(cand)
    return [(sl, comps.labels[sl] == i) for i, sl in enumerate(comps.boxes, 1)]


def _paint(pieces: list[tuple[tuple[slice, slice], np.ndarray]], shape: tuple[int, ...]) -> np.ndarray:
    """A mask of `shape` holding the given components."""
    out = np.zeros(shape, bool)
    for sl, piece in pieces:
        out[sl] |= piece
    return out


def line_band(piece: np.ndarray, along: int) -> np.ndarray | None:
    """The printed line in a run of ink along `along`, or None when the run is not straight as
    printed lines are, even when tilted or seen in perspective (the arc of a 0 is not).

    Straight: the middle of its thin positions (no thicker than the run's median + 1 px) stays
    within LINE_WOBBLE px of a straight fit. Where a digit's stroke lies along the line or crosses it,
    the run is thicker; those positions neither bend the fit nor belong to the line, whose pixels are
    the band of its median thickness around the fit."""
    idx = np.nonzero(piece)
    pos, across = idx[along], idx[1 - along].astype(np.float64)
    counts = np.bincount(pos)
    keep = counts > 0
    if np.count_nonzero(keep) < 3:
        return piece
    c = np.sort(counts[keep])
    typical = (float(c[(len(c) - 1) // 2]) + float(c[len(c) // 2])) / 2  # the median, cheaper
    thin = keep & (counts <= typical + 1)
    x, y = np.flatnonzero(thin).astype(np.float64), np.bincount(pos, weights=across)[thin] / counts[thin]
    xc = x - x.mean()  # least-squares line through the centres, in closed form
    slope = float(xc @ (y - y.mean())) / float(xc @ xc)
    if float(np.abs(y - y.mean() - slope * xc).max()) > LINE_WOBBLE:
        return None
    middle = y.mean() + slope * (pos - x.mean())
    band = np.zeros_like(piece)
    near = np.abs(across - middle) <= typical / 2 + 0.5
    band[idx[0][near], idx[1][near]] = True
    return band


def _within(sl: tuple[slice, slice], other: tuple[slice, slice], along: int) -> bool:
    """Whether a run along `along` (box `sl`) lies inside the box of a perpendicular run `other` that is
    a stroke, at least twice as long as broad: from end to end within its breadth (a thick upright
    stroke holds short level runs of its own width; a thick printed bar holds runs both ways in one
    box, and the bar is the level one)."""
    length, breadth = other[1 - along].stop - other[1 - along].start, other[along].stop - other[along].start
    return length >= 2 * breadth \
        and other[along].start <= sl[along].start and sl[along].stop <= other[along].stop \
        and other[1 - along].start <= sl[1 - along].start and sl[1 - along].stop <= other[1 - along].stop


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
