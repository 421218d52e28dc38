"""Binary-mask helpers shared by the ink finder, the line remover and preprocessing: bounding boxes,
specks, stroke width, enclosed paper, elongation."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from handwritten_digits.morph import bounding_rect
from handwritten_digits.morph import label as label_pixels

SPECK_FRAC = 0.02  # components smaller than this fraction of the largest are specks
MIN_SPECK = 3  # px (working scale): smaller components are always specks


def bbox(mask: np.ndarray, pad: int = 0) -> tuple[slice, slice] | None:
    """(rows, cols) slices of the mask's bounding box grown by `pad`, or None when it is empty."""
    x, y, w, h = bounding_rect(mask)
    if not w:
        return None
    return (slice(max(y - pad, 0), min(y + h + pad, mask.shape[0])),
            slice(max(x - pad, 0), min(x + w + pad, mask.shape[1])))


def label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """`ndimage.label` (8-connected), computed inside the mask's bounding box only: ink is usually a
    small part of the picture, and labelling is the commonest step of the ink search."""
    labels = np.zeros(mask.shape, np.int32)
    box, boxed, n = _label_box(mask)
    if box is not None:
        labels[box] = boxed
    return labels, n


def count(mask: np.ndarray) -> int:
    """The number of 8-connected components of `mask`."""
    return _label_box(mask)[2]


def _label_box(mask: np.ndarray) -> tuple[tuple[slice, slice] | None, np.ndarray | None, int]:
    """(the mask's bounding box, the 8-connected labels inside it, their count); (None, None, 0) when
    empty."""
    box = bbox(mask)
    if box is None:
        return None, None, 0
    labels, n = label_pixels(mask[box])
    return box, labels, n


@dataclass
class Components:
    """The connected components of a mask: labels, areas and boxes, computed inside the mask's bounding
    box (as `label`) and placed in the mask's coordinates."""

    labels: np.ndarray  # (h, w) int32: 0 off the mask, 1..n on it
    areas: np.ndarray  # (n + 1,) pixels per label; areas[0] = 0
    boxes: list[tuple[slice, slice]]  # (rows, cols) of labels 1..n
    box: tuple[slice, slice] | None = field(default=None, repr=False)  # the mask's bounding box
    boxed: np.ndarray | None = field(default=None, repr=False)  # labels inside it

    @property
    def n(self) -> int:
        return len(self.boxes)

    def select(self, keep: np.ndarray) -> np.ndarray:
        """(h, w) bool: the pixels of the components whose labels are in `keep` (or, given n + 1
        bools, where keep[label] holds)."""
        keep = np.asarray(keep)
        if keep.dtype != bool:
            lut = np.zeros(self.n + 1, bool)
            lut[keep.astype(np.intp)] = True  # (an empty list arrives as float)
            keep = lut
        out = np.zeros(self.labels.shape, bool)
        if self.box is not None:
            out[self.box] = keep[self.boxed] & (self.boxed > 0)
        return out


def components(mask: np.ndarray) -> Components:
    """The 8-connected components of `mask`: what `ndimage.label`, `np.bincount` and
    `ndimage.find_objects` give on the whole mask, at the cost of its bounding box."""
    labels = np.zeros(mask.shape, np.int32)
    box, boxed, n = _label_box(mask)
    if box is None:
        return Components(labels, np.zeros(1, np.intp), [])
    labels[box] = boxed
    areas = np.bincount(boxed.ravel(), minlength=n + 1)
    areas[0] = 0
    y0, x0 = box[0].start, box[1].start
    boxes = [(slice(ys.start + y0, ys.stop + y0), slice(xs.start + x0, xs.stop + x0))
             for ys, xs in ndimage.find_objects(boxed)]
    return Components(labels, areas, boxes, box, boxed)


def drop_specks(mask: np.ndarray, frac: float = SPECK_FRAC) -> np.ndarray:
    """The mask without components smaller than `frac` of the largest (or than MIN_SPECK px)."""
    box, labels, _ = _label_box(mask)
    if box is None:
        return mask
    areas = np.bincount(labels.ravel())
    areas[0] = 0
    big = areas >= max(MIN_SPECK, frac * areas.max())
    out = np.zeros(mask.shape, bool)
    out[box] = big[labels]
    return out


def stroke_width(binary: np.ndarray) -> float:
    """Mean stroke width in px: a stroke of width w and length L has area wL and 2L edge pixels."""
    b = np.pad(binary, 1)
    edges = np.count_nonzero(b[:, 1:] != b[:, :-1]) + np.count_nonzero(b[1:, :] != b[:-1, :])
    return 2.0 * np.count_nonzero(b) / max(edges, 1)


def enclosed(mask: np.ndarray) -> int:
    """Pixels off the mask that it encloses (the holes `ndimage.binary_fill_holes` fills: not
    4-connected to the border), counted by labelling the paper once instead of filling iteratively."""
    paper, _ = label_pixels(np.pad(~mask, 1, constant_values=True), connectivity=4)
    return int(np.count_nonzero(paper)) - int(np.count_nonzero(paper == paper[0, 0]))


def thinness(mask: np.ndarray) -> float:
    """Minor / major axis of the mask's spread: sqrt of the eigenvalue ratio of its pixels'
    covariance (a straight line is ~0, a disc 1); 0 for fewer than three pixels."""
    ys, xs = np.nonzero(mask)
    if len(ys) < 3:
        return 0.0
    y, x = ys - ys.mean(), xs - xs.mean()
    a, c, b = float(y @ y), float(x @ x), float(y @ x)  # the covariance's scale cancels in the ratio
    mid, half = (a + c) / 2, float(np.hypot((a - c) / 2, b))
    return float(np.sqrt(max(mid - half, 0.0) / max(mid + half, 1e-9)))
