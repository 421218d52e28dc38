"""OpenCV morphology gives exactly the pixels of the SciPy calls it replaces, odd and even windows."""

import numpy as np
import pytest
from scipy import ndimage

from handwritten_digits import morph
from handwritten_digits.preprocess import _disk


def gray(seed: int, shape=(37, 52)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


def mask(seed: int, p: float = 0.5, shape=(37, 52)) -> np.ndarray:
    return np.random.default_rng(seed).random(shape) > p


@pytest.mark.parametrize("size", [2, 3, 4, 7, 10, 31, 32, 60])
def test_grey_envelopes_match_scipy(size):
    for seed in range(3):
        a = gray(seed)
        assert np.array_equal(morph.grey_close(a, size), ndimage.grey_closing(a, size=size, mode="nearest"))
        assert np.array_equal(morph.grey_open(a, size), ndimage.grey_opening(a, size=size, mode="nearest"))


def runs_by_labels(m: np.ndarray, length: int, axis: int) -> np.ndarray:
    """Pixels in runs of at least `length` along `axis`, by labelling the runs."""
    structure = np.zeros((3, 3), bool)
    structure[1, :] = axis == 1
    structure[:, 1] |= axis == 0
    labels, _ = ndimage.label(m, structure)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return (sizes >= length)[labels]


@pytest.mark.parametrize("length", [1, 2, 3, 4, 5, 12, 13, 37, 52, 60])
@pytest.mark.parametrize("axis", [0, 1])
def test_long_runs_match_labelling_the_runs(length, axis):
    for seed, p in ((0, 0.2), (1, 0.05), (2, 0.5)):
        m = mask(seed, p)
        assert np.array_equal(morph.long_runs(m, length, axis), runs_by_labels(m, length, axis))
        assert np.array_equal(morph.thicken(m, axis), ndimage.maximum_filter1d(m, 3, axis=axis))
    full = np.ones((37, 52), bool)
    assert morph.long_runs(full, length, axis).all() == (length <= full.shape[axis])


@pytest.mark.parametrize("radius", [1, 2, 3])
def test_binary_growth_and_float_filters_match_scipy(radius):
    eight = np.ones((3, 3), bool)
    for seed in range(3):
        m = mask(seed, 0.95)
        sub = m[3:30, 5:40]  # a view, as callers pass a box of a larger mask
        assert np.array_equal(morph.grow(sub, radius), ndimage.binary_dilation(sub, eight, iterations=radius))
        f = np.random.default_rng(seed).random((41, 33)).astype(np.float32)
        disk = _disk(radius)
        assert np.array_equal(morph.dilate(f, disk), ndimage.grey_dilation(f, footprint=disk))
        assert np.array_equal(morph.erode(f, disk), ndimage.grey_erosion(f, footprint=disk))
        for size in (radius + 1, 2 * radius + 1, 4):
            assert np.array_equal(morph.max_filter(f, size), ndimage.maximum_filter(f, size=size))


@pytest.mark.parametrize("p", [0.05, 0.4, 0.6, 0.95])
def test_labels_match_scipy_in_number_and_order(p):
    eight = np.ones((3, 3), bool)
    for seed in range(4):
        m = mask(seed, p)
        for sub in (m, m[3:30, 5:40], m[:, 7]):  # views and a profile, as callers pass them
            for connectivity, structure in ((8, eight if sub.ndim == 2 else None), (4, None)):
                labels, n = morph.label(sub, connectivity)
                expect, k = ndimage.label(sub, structure)
                assert n == k and labels.dtype == np.int32 and np.array_equal(labels, expect)
    assert morph.label(np.zeros((0, 5), bool))[1] == 0 and morph.label(np.zeros(4, bool))[1] == 0


@pytest.mark.parametrize("size", [1, 3, 5, 7, 11, 21])
def test_median_matches_scipy(size):
    for seed, shape in ((0, (37, 52)), (1, (6, 9)), (2, (1, 30))):
        a = gray(seed, shape)
        expect = ndimage.median_filter(a, size=size, mode="nearest")
        assert np.array_equal(morph.median_filter(a, size), expect)


def test_bounding_rect_is_the_box_of_the_set_rows_and_columns():
    for seed, p in ((0, 0.999), (1, 0.995), (2, 0.98), (3, 0.3), (4, 1.0)):
        m = mask(seed, p)
        for sub in (m, m[3:30, 5:40], m[::2], m.T, m.astype(np.int64), m.astype(np.float32)):
            rows, cols = np.flatnonzero(sub.any(1)), np.flatnonzero(sub.any(0))
            expect = (int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)) \
                if len(rows) else (0, 0, 0, 0)
            assert tuple(morph.bounding_rect(sub)) == expect
    assert tuple(morph.bounding_rect(np.zeros((0, 4), bool))) == (0, 0, 0, 0)
