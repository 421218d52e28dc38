"""Batch augmentation: each op does what it says, on the share of the batch it says, reproducibly."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import ndimage

from handwritten_digits.augment import POLICIES, Policy, blur, flag_ones, get_policy, stroke_width, tta_views
from handwritten_digits.errors import DigitsError


def _digits(n: int = 64) -> torch.Tensor:
    """(n, 1, 28, 28): a ring (a 0) and a bar under it, two px wide, in the middle of the frame."""
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    r = ((yy - 12) ** 2 + (xx - 14) ** 2).sqrt()
    x = ((r > 4) & (r < 6)).float()
    x[20:22, 8:20] = 1.0
    return x.view(1, 1, 28, 28).repeat(n, 1, 1, 1)


def _centre(img: torch.Tensor) -> tuple[float, float]:
    return ndimage.center_of_mass(img[0].numpy())


def test_a_policy_is_reproducible_from_its_generator() -> None:
    x = _digits()
    robust = POLICIES["robust"]
    a, b = robust(x, torch.Generator().manual_seed(5)), robust(x, torch.Generator().manual_seed(5))
    c = robust(x, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and float(a.min()) >= 0.0 and float(a.max()) <= 1.0


def test_an_empty_policy_leaves_the_batch_as_it_is() -> None:
    x = _digits(4)
    assert torch.allclose(Policy()(x, torch.Generator().manual_seed(0)), x, atol=1e-5)


def test_translation_moves_the_digit_no_farther_than_asked() -> None:
    x = _digits()
    out = Policy(translate_px=3.0)(x, torch.Generator().manual_seed(1))
    cy, cx = _centre(x[0])
    moves = torch.tensor([[_centre(o)[0] - cy, _centre(o)[1] - cx] for o in out])
    assert moves.abs().max() <= 3.0 + 0.1
    assert moves.abs().max() >= 1.5  # and it does move them
    assert torch.allclose(out.sum((1, 2, 3)), x.sum((1, 2, 3)), rtol=0.02)  # nothing falls off


def test_rotation_keeps_the_ink_and_turns_the_bar() -> None:
    x = _digits()
    out = Policy(rotate_deg=30)(x, torch.Generator().manual_seed(2))
    assert torch.allclose(out.sum((1, 2, 3)), x.sum((1, 2, 3)), rtol=0.03)
    assert int((out[:, 0, 20:22, 8:20].sum((1, 2)) < 0.8 * x[0, 0, 20:22, 8:20].sum()).sum()) >= 16


def test_stroke_width_thickens_and_thins_its_share() -> None:
    x = _digits(400)
    out = stroke_width(x, torch.Generator().manual_seed(3), p=0.5)
    ink, base = out.sum((1, 2, 3)), x[0].sum()
    thicker, thinner = int((ink > 1.3 * base).sum()), int((ink < 0.7 * base).sum())
    assert 70 <= thicker <= 130 and 70 <= thinner <= 130
    assert thicker + thinner + int((ink == base).sum()) == len(x)


def test_blur_softens_its_share_and_keeps_the_ink() -> None:
    x = _digits(400)
    out = blur(x, torch.Generator().manual_seed(4), p=0.25)
    soft = out.amax((1, 2, 3)) < 1.0
    assert 70 <= int(soft.sum()) <= 130
    assert torch.allclose(out[soft].sum((1, 2, 3)), x[soft].sum((1, 2, 3)), rtol=1e-4)
    assert torch.equal(out[~soft], x[~soft])


def test_tta_views_are_the_input_and_four_one_pixel_shifts() -> None:
    x = _digits(2)
    views = tta_views(x)
    assert len(views) == 5 and torch.equal(views[0], x)
    cy, cx = _centre(x[0])
    shifts = sorted((round(_centre(v[0])[0] - cy), round(_centre(v[0])[1] - cx)) for v in views[1:])
    assert shifts == [(-1, 0), (0, -1), (0, 1), (1, 0)]


def test_an_unknown_policy_is_a_clear_error() -> None:
    assert get_policy("light") is POLICIES["light"]
    with pytest.raises(DigitsError, match="unknown augmentation 'heavy'"):
        get_policy("heavy")


def _bar(n: int, top: tuple[int, int], bottom: tuple[int, int]) -> torch.Tensor:
    """(n, 1, 28, 28): a straight 2-px stroke from `top` to `bottom` ((y, x)), a 1 of MNIST's kind."""
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    (y0, x0), (y1, x1) = top, bottom
    t = ((yy - y0) / (y1 - y0)).clamp(0, 1)
    x = (((yy >= y0) & (yy <= y1)) & ((xx - (x0 + t * (x1 - x0))).abs() < 1.0)).float()
    return x.view(1, 1, 28, 28).repeat(n, 1, 1, 1)


def test_flags_go_on_a_share_of_the_ones_only() -> None:
    ones, labels = _bar(400, (4, 14), (23, 14)), torch.tensor([1, 7] * 200)
    out = flag_ones(ones, labels, torch.Generator().manual_seed(0), p=0.5)
    changed = (out != ones).flatten(1).any(1)
    assert not changed[labels == 7].any()  # a 7 is never given a flag
    assert 70 <= int(changed[labels == 1].sum()) <= 130
    again = flag_ones(ones, labels, torch.Generator().manual_seed(0), p=0.5)
    assert torch.equal(out, again) and float(out.max()) <= 1.0
    added = (out - ones)[changed]
    # the flag: from the top down to the left, in the upper half, never right of the stem
    assert bool((added[:, 0, :14, :13].sum((1, 2)) > 1.0).all())
    assert float(added[:, 0, :14, 16:].sum()) == 0.0 and float(added[:, 0, 14:21].sum()) == 0.0
    feet = added[:, 0, 21:25, 14:].sum((1, 2)) > 1.0  # a foot reaches right of the stem at its base
    assert 0.1 <= float(feet.float().mean()) <= 0.5


def test_a_flag_runs_down_from_the_top_and_never_flatter_than_a_bar() -> None:
    for top, bottom in (((4, 14), (23, 14)), ((4, 18), (23, 11))):  # upright, and leaning right "/"
        ones = _bar(200, top, bottom)
        out = flag_ones(ones, torch.ones(200, dtype=torch.long), torch.Generator().manual_seed(2), p=1.0)
        flag = (out - ones)[:, 0, :14]  # the upper half: the flag alone
        assert float(flag[:, :top[0]].sum()) == 0.0  # nothing above the stroke's top: it runs down
        for f in flag[flag.flatten(1).sum(1) > 1.0]:
            ys, xs = torch.nonzero(f > 0.5, as_tuple=True)
            drop, run = float(ys.max() - ys.min()), float(xs.max() - xs.min())
            assert math.degrees(math.atan2(run, drop)) <= 66  # 60 degrees from vertical, 2-px strokes


def test_the_flag_draws_the_same_numbers_with_or_without_ones_and_keeps_the_dtype() -> None:
    ones = _bar(8, (4, 14), (23, 14))
    with_ones, without = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    flag_ones(ones, torch.ones(8, dtype=torch.long), with_ones, p=1.0)
    flag_ones(ones, torch.full((8,), 7), without, p=1.0)
    assert torch.equal(with_ones.get_state(), without.get_state())  # later augmentation replays
    half = flag_ones(ones.bfloat16(), torch.ones(8, dtype=torch.long), torch.Generator().manual_seed(4), 1.0)
    assert half.dtype == torch.bfloat16 and bool((half != ones.bfloat16()).any())


def test_a_one_leaning_left_keeps_its_shape() -> None:
    leaning = _bar(50, (4, 10), (23, 18))  # "\": a flag would make it a caret
    out = flag_ones(leaning, torch.ones(50, dtype=torch.long), torch.Generator().manual_seed(1), p=1.0)
    assert torch.equal(out, leaning)
    upright = _bar(50, (4, 14), (23, 14))
    out = flag_ones(upright, torch.ones(50, dtype=torch.long), torch.Generator().manual_seed(1), p=1.0)
    assert bool((out != upright).flatten(1).any(1).all())
