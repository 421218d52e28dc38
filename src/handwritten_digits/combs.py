"""Open combs: a form's number field drawn as a baseline with a short tick between cells (or ticks
hanging from a top line), and no tops to its cells. Alone, the ticks read as a row of 1s; the line and
its ticks are taken out of the thresholded mask before the other printed lines. At working scale."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from handwritten_digits.lines import BRIDGE, LINE_SPAN, give_back, line_band, run_pieces
from handwritten_digits.morph import label

COMB_TICKS = 3  # an open comb (a form's baseline with a tick between cells) has this many ticks or more,
COMB_EVEN = 0.15  # at whole multiples of one spacing give or take this fraction of it,
COMB_LENGTH = 0.3  # all within this fraction of their median length,
COMB_SHORT = 0.75  # and no longer than this fraction of the spacing (upright 1s on a line are taller),
TICK_ALONE = 1.2  # each a stroke of its own: its component no bigger than this times its run's pixels


def remove_combs(mask: np.ndarray, horiz: np.ndarray) -> tuple[np.ndarray, int]:
    """Delete open combs: a straight printed line with short thin ticks standing on it (or hanging from
    it) at even spacing and ending there -- a form's number field whose cells have no tops, and whose
    ticks alone would read as 1s. Strokes that cross the line are not ticks. `horiz`: the mask's
    `lines.horizontal_runs`."""
    # ink two rows above (below) a line, off the lines: fewer than COMB_TICKS strokes there in all
    # spares almost every image the search for ticks
    above, below = mask[:-2] & horiz[2:] & ~horiz[:-2], mask[2:] & horiz[:-2] & ~horiz[2:]
    if max(_strokes(above.any(0)), _strokes(below.any(0))) < COMB_TICKS:
        return mask, 0
    out, count = mask, 0
    for sl, piece in run_pieces(horiz):
        # a line across the page is ruling, for remove_lines (which gives back the digits' pixels)
        if sl[1].stop - sl[1].start >= LINE_SPAN * mask.shape[1] or not _crossed(mask, sl):
            continue
        band = line_band(piece, 1)
        found = None if band is None else _ticks(mask, sl, band)
        if found is not None:
            win, line, ticks = found
            out = out.copy()
            out[win] = give_back(out[win] & ~line & ~ticks, line, (0,))
            count += 1
    return out, count


def _crossed(mask: np.ndarray, sl: tuple[slice, slice]) -> bool:
    """Whether a row just above or below a run's box crosses COMB_TICKS strokes or more (a slightly
    tilted comb's ticks still cross it)."""
    return any(_strokes(mask[row, sl[1]]) >= COMB_TICKS
               for row in (sl[0].start - 2, sl[0].stop + 1) if 0 <= row < mask.shape[0])


def _strokes(row: np.ndarray) -> int:
    """Runs of True in a 1-D bool array."""
    return int(row[0]) + int(np.count_nonzero(row[1:] & ~row[:-1])) if len(row) else 0


def _ticks(mask: np.ndarray, sl: tuple[slice, slice], band: np.ndarray
           ) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray] | None:
    """(window, the line's pixels in it, the ticks' pixels in it) for a horizontal line `band` in box
    `sl`, or None when no comb stands on it. A tick is a stroke of its own once the line is gone: a
    digit's stem or arc standing on the line belongs to more ink, a closed box's wall reaches its
    other side (or the window's edge, BRIDGE px beyond the longest tick)."""
    cols = np.flatnonzero(band.any(0))
    x = cols + sl[1].start
    top = band.argmax(0)[cols] + sl[0].start
    bottom = band.shape[0] - 1 - band[::-1].argmax(0)[cols] + sl[0].start
    thick = float(np.median(bottom - top + 1))
    reach = max(2, len(cols) // (COMB_TICKS - 1))  # no tick is longer than the comb's spacing
    up, down = _run(mask, top - 1, x, -1, reach), _run(mask, bottom + 1, x, 1, reach)
    for run, other, start, step in ((up, down, top - 1, -1), (down, up, bottom + 1, 1)):
        stubs = _stubs(run, other, thick)
        if stubs is None:
            continue
        found, length = stubs
        far = int(max(f[1] for f in found)) + BRIDGE
        rows = slice(max(0, sl[0].start - (far if step < 0 else BRIDGE)),
                     min(mask.shape[0], sl[0].stop + (far if step > 0 else BRIDGE)))
        win = (rows, sl[1])
        line = np.zeros_like(mask[win])
        line[sl[0].start - rows.start:sl[0].stop - rows.start] = band
        ticks = []
        for s, _, centre in found:  # each stub's pixels in the window
            tick = np.zeros_like(line)
            for c in range(s.start, s.stop):
                tick[start[c] - rows.start + step * np.arange(run[c]), cols[c]] = True
            ticks.append((tick, centre))
        alone = _alone(mask[win] & ~line, ticks)
        if len(alone) < COMB_TICKS:
            continue
        centres = np.array([c for _, c in alone])
        gap = float(np.median(np.diff(centres)))
        if gap <= 0 or length > COMB_SHORT * gap:
            continue
        # the ticks at whole multiples of the spacing from whichever tick lines up the most of them
        on = max((np.abs((centres - c0) / gap - np.round((centres - c0) / gap)) <= COMB_EVEN
                  for c0 in centres), key=np.count_nonzero)
        if np.count_nonzero(on) >= COMB_TICKS:
            return win, line, np.any([t for (t, _), keep in zip(alone, on, strict=True) if keep], axis=0)
    return None


def _alone(rest: np.ndarray, ticks: list[tuple[np.ndarray, float]]) -> list[tuple[np.ndarray, float]]:
    """The ticks that are strokes of their own in `rest` (the window's ink less the line): their
    components reach neither edge of the window and hold little more ink than the tick itself."""
    labels, _ = label(rest, connectivity=4)
    sizes = np.bincount(labels.ravel())
    edge = np.zeros(len(sizes), bool)  # components reaching the window's top or bottom
    edge[labels[0]] = edge[labels[-1]] = True
    alone = []
    for tick, centre in ticks:
        own = np.unique(labels[tick])
        own = own[own > 0]
        if not edge[own].any() and sizes[own].sum() <= TICK_ALONE * np.count_nonzero(tick) + 2:
            alone.append((tick, centre))
    return alone


def _stubs(run: np.ndarray, other: np.ndarray, thick: float
           ) -> tuple[list[tuple[slice, float, float]], float] | None:
    """([(columns, length, centre)], their median length) for the strokes in per-column runs off a
    line that could be a comb's ticks: thin, ending at the line (no run on its other side), of one
    length; None for fewer than COMB_TICKS."""
    stubs, _ = label(run >= 2)  # a pixel or two beside the line is its rim
    found = []
    for k, (s,) in enumerate(ndimage.find_objects(stubs), 1):
        inside = stubs[s] == k
        if s.stop - s.start <= 2 * thick + 2 and not (other[s][inside] >= 2).any():
            found.append((s, float(run[s].max()), (s.start + s.stop - 1) / 2))
    if len(found) < COMB_TICKS:
        return None
    length = float(np.median([f[1] for f in found]))
    found = [f for f in found if abs(f[1] - length) <= COMB_LENGTH * length]
    return (found, length) if len(found) >= COMB_TICKS else None


def _run(mask: np.ndarray, start: np.ndarray, x: np.ndarray, step: int, reach: int) -> np.ndarray:
    """Per column `x`, how many pixels of ink follow one another from row `start` on, going `step`."""
    rows = start[None, :] + step * np.arange(reach)[:, None]
    inside = (rows >= 0) & (rows < mask.shape[0])
    ink = mask[rows.clip(0, mask.shape[0] - 1), x[None, :]] & inside
    return np.argmin(np.pad(ink, ((0, 1), (0, 0))), axis=0)
