"""Why ink is not one digit, from its statistics alone, and when a flat-paper look may replace a first one.

The ink rules (a dot, a line, a picture, noise, several digits side by side) run before the model is
asked; their thresholds are loose enough that no MNIST test digit trips them (checked by
tests/test_recognize.py on MNIST). The flat-paper guards say when the paper estimate sank under bold
strokes (`sank`) and whether a look with the paper as one level kept what the first look found (`keeps`).
"""

from __future__ import annotations

import numpy as np

from handwritten_digits.ink import Ink, Shape
from handwritten_digits.morph import grow
from handwritten_digits.segment import glyphs, merge_strokes

MAX_INK_FRACTION = 0.45  # of the image: more is a picture or noise (a digit cropped to its box covers ~0.4)
TILE_INK_FRACTION = 0.55  # ... except a single digit of strokes: a bold one filling a 16-px tile, as
TILE_FILL = 0.7  # other collections store digits, covers up to 0.55; strokes fill less of their box than
# this or enclose paper, a filled oval or bar does neither
MAX_PAGE_COMPONENTS = 12  # significant components: more is noise or text
MAX_PIECES = 4  # components in one digit: more is scribble or noise
MIN_EXTENT = 0.012  # of the image side: smaller ink is a speck, not a digit (a small digit in a
# 2000-px photo is 1.5%)
DOT = (0.6, 0.5, 2.0, 0.25)  # fill of its box above, aspect between, extent below: a solid dot (a
# bold MNIST digit fills 0.6-0.67 of its box but spans 70% of its tile)
DOT_HOLES = 0.05  # of its area: a dot encloses no paper; a bold 0, 6, 8 or 9 that fills its box does
LINE_THINNESS = 0.06  # minor/major spread below this, spanning the image: a line across it
MAX_ASPECT = 2.0  # a single digit is never this much wider than tall
SIDE_BY_SIDE = 0.6  # of the tallest: glyphs this tall side by side are several digits ...
ONE_DIGIT_WIDTH = 0.75  # of the tallest: ... unless together they are as narrow as one digit
MAX_SOLID = 0.3  # of the contrast: background under the ink this far from the paper around it is a
# photographed object (clothing, a picture), not a written digit (tune split: good singles <= 0.02)

# Bold strokes (a marker, a tight crop) can fill the local paper estimate's windows: the estimate sinks
# into the ink and hollows the strokes out. Such images get a look with the paper taken as one level:
SANK = 0.05  # solid above this on an answered digit: the estimate sank under its box (good singles
# <= 0.02) ...
SUNK = 0.3  # ... or sunk above this: it sank under its strokes (1-2% of good photos on the tune split,
# 95% of tight marker crops)
FILLED = 0.6  # solid from here on: it sank under all of the ink, a filled shape wider than any pen
# stroke, not strokes (bold validation digits stay under it: 2 of 4,800 probes reach it)
KEEP = 0.9  # of the first look's ink: the flat look must keep at least this much of it, ...
EDGES = 0.5  # ... and this much of its digit's edge must be near the first look's ink (a shadowed
# blank page's edge fragment is not the edge of the "1" the flat look makes of the shadow)


def digit_reason(ink: Ink, shape: Shape | None = None) -> str | None:
    """Why the most prominent ink is not one digit; None when it may be one. `shape`: that ink's, when
    already measured."""
    if ink.mask is None:
        return "blank"
    reason = shape_reason(shape if shape is not None else ink.shape(ink.mask))
    if reason is None and side_by_side(ink) > 1:
        return "multiple_digits"
    return reason


def side_by_side(ink: Ink) -> int:
    """How many glyphs of about the tallest one's height stand side by side on the page (a 4 written
    in two strokes is one)."""
    if ink.page is None:
        return 0
    found = glyphs(ink.page, ink.parts)
    tallest = max((g.height for g in found), default=0)
    found = merge_strokes(found, ONE_DIGIT_WIDTH * tallest, 1.0)
    return sum(g.height >= SIDE_BY_SIDE * tallest for g in found)


def shape_reason(shape: Shape, alone: bool = True) -> str | None:
    """Why this ink is not one digit, from its statistics alone; None when it may be one.

    `alone` is False for a glyph of a number, which may be wide (touching digits) and share the page
    with many components.
    """
    if shape.pieces == 0:
        return "blank"
    if shape.extent < MIN_EXTENT:
        return "blank"
    if shape.ink_fraction > MAX_INK_FRACTION and not (
            alone and shape.ink_fraction <= TILE_INK_FRACTION
            and (shape.fill < TILE_FILL or shape.holes >= DOT_HOLES)):
        return "not_a_digit"
    if alone and shape.page_components > MAX_PAGE_COMPONENTS:
        return "not_a_digit"
    if shape.pieces > MAX_PIECES or alone and shape.aspect > MAX_ASPECT:
        return "not_a_digit"
    if shape.fill > DOT[0] and DOT[1] <= shape.aspect <= DOT[2] and shape.extent < DOT[3] \
            and shape.holes < DOT_HOLES:
        return "not_a_digit"
    if shape.solid > MAX_SOLID:
        return "not_a_digit"
    if shape.thinness < LINE_THINNESS and shape.spans:
        return "not_a_digit"
    return None


def keeps(first: Ink, again: Ink) -> bool:
    """Whether a later look keeps nearly all the ink the first found (the flat look may take a shadow
    for ink and drop it at the border, with the digits in it), and the first found the edges of the
    later look's digit (as it does of hollowed strokes, not of a shadow's edge)."""
    if again.page is None or not again.page.any() or again.mask is None or first.page is None:
        return False
    found = int(np.count_nonzero(first.page))
    if found == 0:
        return False
    edge = again.mask & grow(~again.mask, 1)
    return np.count_nonzero(first.page & grow(again.page, 1)) >= KEEP * found \
        and np.count_nonzero(edge & grow(first.page, 2)) >= EDGES * np.count_nonzero(edge)


def sank(shape: Shape) -> bool:
    """Whether the paper estimate sank under this ink (bold strokes filled its windows)."""
    return shape.solid > SANK or shape.sunk > SUNK
