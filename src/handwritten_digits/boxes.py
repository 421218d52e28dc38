"""Printed boxes around a digit, taken out of the thresholded mask at working scale: a closed box
(`remove_frames`) and a box whose sides the digit touches (`strip_box_sides`). Lone lines and the
sides of a comb of cells are `lines.remove_lines`' business.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy import ndimage

from handwritten_digits.masks import components
from handwritten_digits.morph import label
from handwritten_digits.paper import percentile

MIN_FRAME = 10  # px (working scale): smaller components are never a printed box around a digit
FRAME_SIDE = 0.9  # of each side of its bounding box: inked this much, a component is a closed box
FRAME_MARGIN = 0.15  # of its size: a box is empty this far inside its sides


def remove_frames(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Delete closed printed boxes around a digit: a component whose bounding box is inked along
    nearly all of its four sides, empty inside, and holding other ink there. A hand-drawn 0 touches
    its box only at four points; a box line touched by the digit is left to `remove_lines`."""
    out, count = mask, 0
    for labels, i, sl, comp in _box_sized(mask):
        h, w = comp.shape
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


def _box_sized(mask: np.ndarray) -> Iterator[tuple[np.ndarray, int, tuple[slice, slice], np.ndarray]]:
    """(labels, label, box, component mask in its box) for each component MIN_FRAME px or more a side."""
    comps = components(mask)
    labels = comps.labels
    for i, sl in enumerate(comps.boxes, 1):
        comp = labels[sl] == i
        if min(comp.shape) >= MIN_FRAME:
            yield labels, i, sl, comp


def strip_box_sides(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Cut a printed box off the digit written into it and touching it (so one component, which
    `remove_frames` leaves alone): a component three of whose outer edges, two of them opposite, are
    straight lines along FRAME_SIDE of its height (width) or more, with ink between them, loses
    those edges. A digit's own strokes never run along three edges of its box (a Z-shaped 2: two)."""
    out, count = mask, 0
    for _, _, sl, comp in _box_sized(mask):
        sides = _lined_sides(comp)
        if sides is None:
            continue
        lined = sum(1 for t in sides.values() if t)
        keep = comp.copy()
        for side, thick in sides.items():
            if thick:
                keep[_edge_slice(side, thick)] = False
        if sides["top"] and sides["bottom"]:  # a comb of cells: its inner walls go too
            keep &= ~_walls(keep, sides["top"], keep.shape[0] - sides["bottom"], max(sides.values()))
        if keep.sum() < 0.2 * comp.sum():  # nothing much inside: a box alone is for the abstention rules
            continue
        cleared = np.zeros_like(mask)
        cleared[sl] = comp & ~keep
        out = out & ~cleared
        count += lined
    return out, count


def _lined_sides(comp: np.ndarray) -> dict[str, int] | None:
    """Each side's `_edge_line` thickness when three or four sides are lines (three always include two
    opposite ones); else None, known as soon as two sides are not (most components are digits)."""
    sides, bare = {}, 0
    for side in ("left", "right", "top", "bottom"):
        sides[side] = _edge_line(comp, side)
        bare += not sides[side]
        if bare == 2:  # a Z-shaped 2 has two bars
            return None
    return sides


def _walls(keep: np.ndarray, top: int, bottom: int, thick: int) -> np.ndarray:
    """The columns of `keep` inked along FRAME_SIDE of rows top:bottom (between a comb's top and
    bottom lines), in runs at most `thick` + 1 columns wide: the walls between its cells, as a mask
    of those rows. A handwritten 1 leans, or stops short of the lines."""
    walls = np.zeros_like(keep)
    if bottom <= top:
        return walls
    runs, _ = label(keep[top:bottom].mean(axis=0) >= FRAME_SIDE)
    for sl in ndimage.find_objects(runs):
        if sl[0].stop - sl[0].start <= thick + 1:
            walls[top:bottom, sl[0]] = True
    return walls


def _edge_line(comp: np.ndarray, side: str) -> int:
    """Thickness of a straight line along `side` of the component's box covering FRAME_SIDE of it,
    else 0. The line may be up to a sixth of the box thick (a photo's box line at working scale)."""
    a = {"left": comp, "right": comp[:, ::-1], "top": comp.T, "bottom": comp.T[:, ::-1]}[side]
    runs = np.argmin(np.pad(a, ((0, 0), (0, 1))), axis=1)  # ink run from the edge, per row
    inked = runs > 0
    if inked.mean() < FRAME_SIDE:
        return 0
    thick = int(percentile(runs[inked], 75))
    return thick + 1 if thick <= max(2, a.shape[1] // 6) else 0


def _edge_slice(side: str, thick: int) -> tuple[slice, slice]:
    return {"left": (slice(None), slice(0, thick)), "right": (slice(None), slice(-thick, None)),
            "top": (slice(0, thick), slice(None)), "bottom": (slice(-thick, None), slice(None))}[side]
