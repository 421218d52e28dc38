"""Mask helpers against the slower SciPy / NumPy computations they replace, on random blobs."""

import numpy as np
import pytest
from scipy import ndimage

from handwritten_digits.masks import enclosed, thinness


def blobs(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    ring = np.zeros((30, 30), bool)
    ring[5:25, 5:25] = True
    ring[9:21, 9:21] = False  # one hole of 144 px
    ring[14, 3:30] = True  # ... and a line through it
    return [rng.random((40, 50)) > p for p in (0.3, 0.5, 0.7)] + \
        [ring, np.zeros((5, 5), bool), np.ones((5, 5), bool)]


@pytest.mark.parametrize("seed", range(3))
def test_enclosed_counts_what_fill_holes_fills(seed):
    for m in blobs(seed):
        assert enclosed(m) == np.count_nonzero(ndimage.binary_fill_holes(m)) - np.count_nonzero(m)
    assert enclosed(blobs(seed)[3]) == 144 - 12


@pytest.mark.parametrize("seed", range(3))
def test_thinness_is_the_axis_ratio_of_the_pixel_covariance(seed):
    for m in blobs(seed)[:4]:
        ys, xs = np.nonzero(m)
        ev = np.linalg.eigvalsh(np.cov(np.stack([ys, xs]).astype(np.float64)))
        assert thinness(m) == pytest.approx(np.sqrt(max(ev[0], 0) / ev[1]), abs=1e-9)
    line = np.zeros((20, 20), bool)
    line[np.arange(20), np.arange(20)] = True
    assert thinness(line) == pytest.approx(0.0, abs=1e-6)
    assert thinness(np.ones((9, 9), bool)) == pytest.approx(1.0)
    assert thinness(np.eye(2, dtype=bool)) == 0.0  # two pixels have no spread to speak of


@pytest.mark.parametrize("seed", range(3))
def test_components_match_labelling_the_whole_mask(seed):
    from handwritten_digits.masks import components, count
    rng = np.random.default_rng(seed)
    m = np.zeros((60, 80), bool)
    m[10:45, 20:70] = rng.random((35, 50)) > 0.6  # ink in part of the picture
    for mm in (m, np.zeros_like(m), np.ones_like(m)):
        comps = components(mm)
        labels, n = ndimage.label(mm, np.ones((3, 3), bool))
        areas = np.bincount(labels.ravel(), minlength=n + 1)
        areas[0] = 0
        assert comps.n == n == count(mm) and np.array_equal(comps.labels, labels)
        assert np.array_equal(comps.areas, areas) and comps.boxes == ndimage.find_objects(labels)
        keep = rng.choice(np.arange(1, n + 1), size=min(n, 3), replace=False) if n else np.zeros(0, int)
        assert np.array_equal(comps.select(keep), np.isin(labels, keep))
        assert not comps.select(np.asarray([]) + 1).any()  # nothing kept, as np.isin would say
        flags = rng.random(n + 1) > 0.5
        assert np.array_equal(comps.select(flags), flags[labels] & (labels > 0))


def test_upscaling_a_mask_by_block_copy_matches_pillows_nearest_resize():
    from PIL import Image

    from handwritten_digits.ink import _upscale
    from handwritten_digits.paper import resize
    m = np.random.default_rng(0).random((17, 33)) > 0.5
    for step in (2, 3, 5):
        for size in ((33 * step, 17 * step), (33 * step - 2, 17 * step - 1)):  # whole, cut by the edge
            expect = resize(m.astype(np.float32), size, Image.Resampling.NEAREST)
            assert np.array_equal(_upscale(m, step, size), expect)


def test_paper_resize_matches_pillow_enlarging_and_is_pillow_shrinking():
    from PIL import Image

    from handwritten_digits.paper import resize
    rng = np.random.default_rng(0)
    for shape, size in (((23, 32), (214, 160)), ((5, 7), (21, 15)), ((40, 30), (40, 90)), ((9, 9), (9, 9)),
                        ((2, 3), (17, 11))):
        a = rng.integers(0, 256, shape).astype(np.uint8)
        pil = Image.fromarray(a.astype(np.float32), "F")
        expect = np.asarray(pil.resize(size, Image.Resampling.BILINEAR))
        out = resize(a, size, Image.Resampling.BILINEAR)
        assert out.dtype == np.float32 and out.shape == expect.shape
        assert np.abs(out - expect).max() < 5e-5  # rounding: same positions, same weights
    row = rng.integers(0, 256, (1, 40)).astype(np.uint8)  # one row: Pillow's own result
    pil = Image.fromarray(row.astype(np.float32), "F")
    expect = np.asarray(pil.resize((280, 7), Image.Resampling.BILINEAR))
    assert np.array_equal(resize(row, (280, 7), Image.Resampling.BILINEAR), expect)
    a = rng.random((60, 80)).astype(np.float32)  # shrinking averages (Pillow's support), unlike OpenCV's
    expect = np.asarray(Image.fromarray(a, "F").resize((20, 15), Image.Resampling.BILINEAR))
    assert np.array_equal(resize(a, (20, 15), Image.Resampling.BILINEAR), expect)


def test_percentile_and_median_are_numpys_bit_for_bit():
    from handwritten_digits.paper import median, percentile
    rng = np.random.default_rng(0)
    for i in range(3000):
        n = int(rng.integers(1, 200))
        a = [(rng.random(n) * 255).astype(np.float32),  # the paper estimate, ink strengths
             rng.integers(0, 12, n).astype(np.float32) * np.float32(rng.random()),  # ties
             rng.integers(0, 256, n).astype(np.uint8),  # a coarse paper grid
             rng.integers(0, 30, n)][i % 4]  # run lengths
        for q in (0, 10, 50, 75, 90, 95, 99.98, 100):
            assert percentile(a, q) == float(np.percentile(a, q))
        assert median(a) == float(np.median(a))
    grid = rng.random((7, 9)).astype(np.float32)
    assert median(grid) == float(np.median(grid))
    with pytest.raises(ValueError, match="empty"):
        percentile(np.zeros(0), 50)
