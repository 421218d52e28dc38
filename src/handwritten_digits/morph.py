"""Morphology through OpenCV, giving exactly the pixels of the `scipy.ndimage` call named in each
docstring (tests/test_morph.py checks it, odd and even windows) at a fraction of the cost.

Why OpenCV is a dependency: SciPy's grey closing by the 32-px square that estimates the paper under a
640x480 photo takes 0.51 ms, OpenCV's 0.055 ms (one thread each); with the line finder's run filters
and the renderer's dilations, a photo's file -> answer time fell from 6.7 to 5.2 ms, identical answers.

OpenCV places a window by an anchor and does not mirror it; SciPy mirrors the footprint of a dilation.
For an even window the two agree only with the anchors chosen below.

Labelling, bounding boxes and the median filter moved here for the latency target (issue 5: file ->
answer p50 <= 5 ms). One photo's answer labels components 13 times and takes a mask's box 14 times;
SciPy's labelling costs 20-100 us a call on the working copy (3-5 times OpenCV's), numpy's box 10 us
(2-3 times), and the two came to a tenth of the answer.
"""

from __future__ import annotations

import cv2
import numpy as np

cv2.setNumThreads(1)  # small images: OpenCV's worker threads cost more than they save, and left spinning
# they slowed the model that runs next by 0.5 ms per answer (process-wide; a server has its own workers)

_REPLICATE = {"borderType": cv2.BORDER_REPLICATE}
_ZERO = {"borderType": cv2.BORDER_CONSTANT, "borderValue": 0}


def grey_close(a: np.ndarray, size: int) -> np.ndarray:
    """`ndimage.grey_closing(a, size=size, mode="nearest")`: the upper envelope (a uint8 image)."""
    kernel = np.ones((size, size), np.uint8)
    up = cv2.dilate(a, kernel, anchor=((size - 1) // 2,) * 2, **_REPLICATE)
    return cv2.erode(up, kernel, anchor=(size // 2,) * 2, **_REPLICATE)


def grey_open(a: np.ndarray, size: int) -> np.ndarray:
    """`ndimage.grey_opening(a, size=size, mode="nearest")`: the lower envelope (a uint8 image)."""
    kernel = np.ones((size, size), np.uint8)
    down = cv2.erode(a, kernel, anchor=(size // 2,) * 2, **_REPLICATE)
    return cv2.dilate(down, kernel, anchor=((size - 1) // 2,) * 2, **_REPLICATE)


def long_runs(mask: np.ndarray, length: int, axis: int) -> np.ndarray:
    """Pixels of a bool mask in straight runs of at least `length` px along `axis` (an opening by a
    line: what labelling the runs and keeping the long ones gives)."""
    if length > mask.shape[axis]:
        return np.zeros_like(mask)
    kernel = np.ones((1, length) if axis == 1 else (length, 1), np.uint8)
    first, last = (length // 2, 0), ((length - 1) // 2, 0)
    if axis == 0:
        first, last = first[::-1], last[::-1]
    inside = cv2.erode(np.ascontiguousarray(mask).view(np.uint8), kernel, anchor=first, **_ZERO)
    return cv2.dilate(inside, kernel, anchor=last, **_ZERO).view(bool)


def thicken(mask: np.ndarray, axis: int) -> np.ndarray:
    """`ndimage.maximum_filter1d(mask, 3, axis=axis)` for a bool mask: one pixel more each way."""
    kernel = np.ones((3, 1) if axis == 0 else (1, 3), np.uint8)
    return cv2.dilate(np.ascontiguousarray(mask).view(np.uint8), kernel, **_ZERO).view(bool)


def grow(mask: np.ndarray, radius: int) -> np.ndarray:
    """`ndimage.binary_dilation(mask, np.ones((3, 3)), iterations=radius)`: a bool mask grown by
    `radius` px in all eight directions."""
    kernel = np.ones((2 * radius + 1,) * 2, np.uint8)
    return cv2.dilate(np.ascontiguousarray(mask).view(np.uint8), kernel, **_ZERO).view(bool)


def dilate(a: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """`ndimage.grey_dilation(a, footprint=footprint)` for a float32 image and a symmetric footprint
    of odd size (a disk)."""
    return cv2.dilate(a, footprint.astype(np.uint8))


def erode(a: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """`ndimage.grey_erosion(a, footprint=footprint)` for a float32 image and a symmetric footprint of
    odd size (a disk)."""
    return cv2.erode(a, footprint.astype(np.uint8))


def max_filter(a: np.ndarray, size: int) -> np.ndarray:
    """`ndimage.maximum_filter(a, size=size)` for a float32 image: each pixel the largest in a square
    window (placed as SciPy places an even one)."""
    return cv2.dilate(a, np.ones((size, size), np.uint8), anchor=(size // 2,) * 2)


def bounding_rect(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x, y, w, h) of a 2-D mask's set (nonzero) pixels, (0, 0, 0, 0) when there are none: the box of
    `np.flatnonzero(mask.any(1))` and `np.flatnonzero(mask.any(0))`, without their temporaries."""
    if mask.size == 0:
        return 0, 0, 0, 0
    if mask.dtype != bool:
        mask = mask != 0
    m = mask if mask.strides[-1] == 1 else np.ascontiguousarray(mask)
    return cv2.boundingRect(m.view(np.uint8))


def label(mask: np.ndarray, connectivity: int = 8) -> tuple[np.ndarray, int]:
    """`ndimage.label(mask, np.ones((3, 3)))` (`connectivity` 8) or `ndimage.label(mask)` (4) for a
    bool mask of one or two dimensions: the same int32 labels, numbered the same way. OpenCV's SAUF scan
    numbers components in the raster order of their first pixel, as SciPy does; its default,
    block-based scan does not."""
    flat = mask.ndim == 1
    if mask.size == 0:
        return np.zeros(mask.shape, np.int32), 0
    m = np.ascontiguousarray(mask[None] if flat else mask, dtype=bool).view(np.uint8)
    n, labels = cv2.connectedComponentsWithAlgorithm(m, connectivity, cv2.CV_32S, cv2.CCL_SAUF)
    return (labels[0] if flat else labels), n - 1


def median_filter(a: np.ndarray, size: int) -> np.ndarray:
    """`ndimage.median_filter(a, size=size, mode="nearest")` for a uint8 image and an odd `size`."""
    return a.copy() if size == 1 else cv2.medianBlur(np.ascontiguousarray(a), size)
