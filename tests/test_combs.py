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
