"""The other-collection benchmark draws its 8x8 digits as dark ink on a light page."""

from __future__ import annotations

import numpy as np
from benchmarks.other_collection import MARGIN, UPSAMPLE, render


def test_render_puts_dark_ink_where_the_block_is_inked_on_a_white_page() -> None:
    block = np.zeros((8, 8), np.uint8)
    assert (render(block) == 255).all()
    block[1:7, 3] = 16  # a vertical bar in column 3
    page = render(block)
    assert page.shape == (8 * UPSAMPLE + 2 * MARGIN,) * 2
    ink = np.argwhere(page < 128)
    cols = ink[:, 1] - MARGIN
    assert cols.min() >= 2 * UPSAMPLE and cols.max() < 5 * UPSAMPLE  # around column 3, blurred a little
    assert (page[:MARGIN] == 255).all() and (page[:, -MARGIN:] == 255).all()
