"""Open combs: a form's number field drawn as a baseline with a short tick between cells."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from handwritten_digits import Recognizer
from handwritten_digits.combs import remove_combs
from handwritten_digits.lines import horizontal_runs


@pytest.fixture(scope="module")
def rec() -> Recognizer:
    return Recognizer.load()


def comb(cells: int, tick: float, hanging: bool = False, cell: int = 50) -> Image.Image:
    """A photo-sized page with an open comb of `cells` cells, ticks `tick` of a cell tall."""
    img = Image.new("L", (640, 300), 235)
    d = ImageDraw.Draw(img)
    x0, base = 40, 100 if hanging else 200
    d.line([(x0, base), (x0 + cells * cell, base)], fill=50, width=3)
    end = base + round(tick * cell) * (1 if hanging else -1)
    for k in range(cells + 1):
        d.line([(x0 + k * cell, base), (x0 + k * cell, end)], fill=50, width=3)
    return img


@pytest.mark.parametrize(("cells", "tick", "hanging"),
                         [(6, 0.3, False), (10, 0.5, False), (4, 0.4, False), (8, 0.4, True)])
def test_an_empty_open_comb_is_not_read_as_ones(rec: Recognizer, cells: int, tick: float,
                                                 hanging: bool) -> None:
    img = comb(cells, tick, hanging)
    assert rec.read(img).text is None and rec.predict(img).digit is None


def test_digits_written_in_an_open_comb_are_read(rec: Recognizer) -> None:
    img = comb(6, 0.4)
    d = ImageDraw.Draw(img)
    d.line([(50, 135), (82, 135), (62, 192)], fill=20, width=5)  # a 7 in the first cell
    d.line([(118, 135), (106, 172), (134, 172)], fill=20, width=5)  # a 4 in the second
    d.line([(126, 150), (126, 192)], fill=20, width=5)
    assert rec.read(img).text == "74"


def test_digits_written_under_a_hanging_comb_are_read(rec: Recognizer) -> None:
    img = comb(6, 0.4, hanging=True)  # a top line at y=100, ticks hanging 20 px from it
    d = ImageDraw.Draw(img)
    d.line([(50, 110), (82, 110), (62, 165)], fill=20, width=5)  # 7
    d.line([(118, 110), (106, 147), (134, 147)], fill=20, width=5)  # 4
    d.line([(126, 125), (126, 167)], fill=20, width=5)
    assert rec.read(img).text == "74"


def comb_mask(x0: int, x1: int, spacing: int, tick: int) -> np.ndarray:
    img = Image.new("1", (400, 120), 0)
    d = ImageDraw.Draw(img)
    d.line([(x0, 100), (x1, 100)], fill=1, width=2)
    for x in range(x0, x1 + 1, spacing):
        d.line([(x, 100 - tick), (x, 100)], fill=1, width=2)
    return np.asarray(img, dtype=bool)


def test_a_comb_across_the_whole_image_is_left_to_the_ruled_line_remover() -> None:
    mask = comb_mask(4, 394, 39, 15)  # 98% of the width: ruling with strokes standing on it
    assert remove_combs(mask, horizontal_runs(mask))[1] == 0
    mask = comb_mask(40, 352, 39, 15)
    assert remove_combs(mask, horizontal_runs(mask))[1] == 1


def test_a_stroke_crossing_the_comb_line_keeps_its_pixels_on_it() -> None:
    mask = comb_mask(40, 352, 39, 15)
    img = Image.fromarray(mask)
    ImageDraw.Draw(img).line([(200, 60), (200, 115)], fill=1, width=3)  # a 1 crossing the line mid-cell
    mask = np.asarray(img, dtype=bool)
    out, found = remove_combs(mask, horizontal_runs(mask))
    assert found == 1 and out[95:112, 200].all()  # its stroke whole, across the line
    assert not out[99:102, 120:180].any()  # the line itself gone


def test_a_digit_standing_on_the_line_before_the_first_tick_does_not_hide_the_comb() -> None:
    img = Image.fromarray(comb_mask(79, 352, 39, 15))
    d = ImageDraw.Draw(img)
    d.line([(20, 100), (79, 100)], fill=1, width=2)  # the line goes on to the left ...
    d.line([(55, 85), (55, 100)], fill=1, width=2)  # ... under a 4 whose stem stands on it
    d.line([(48, 70), (44, 85), (60, 85)], fill=1, width=2)
    mask = np.asarray(img, dtype=bool)
    out, found = remove_combs(mask, horizontal_runs(mask))
    assert found == 1 and out[86:99, 55].all()  # the comb goes, the 4's stem stays


def test_ones_standing_on_a_line_are_not_ticks(rec: Recognizer) -> None:
    img = Image.new("L", (640, 300), 235)
    d = ImageDraw.Draw(img)
    d.line([(0, 200), (640, 200)], fill=50, width=3)  # a line across the page
    for x in (100, 160, 220):  # 1s with a flag, taller than they are apart
        d.line([(x - 16, 136), (x, 120), (x, 200)], fill=20, width=6)
    assert rec.read(img).text == "111"


def test_digit_stems_standing_on_a_line_are_not_ticks() -> None:
    img = Image.new("1", (400, 120), 0)
    d = ImageDraw.Draw(img)
    d.line([(10, 100), (330, 100)], fill=1, width=2)
    for k in range(4):  # four 4s, evenly spaced, each stem short and standing on the line
        x = 50 + 70 * k
        d.line([(x, 75), (x, 100)], fill=1, width=2)
        d.line([(x - 15, 60), (x - 20, 75), (x + 6, 75)], fill=1, width=2)
    mask = np.asarray(img, dtype=bool)
    out, found = remove_combs(mask, horizontal_runs(mask))
    assert found == 0 and (out == mask).all()
