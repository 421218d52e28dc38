"""Segmentation of a number into digits: width priors and two-stroke digits, on drawn masks."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from handwritten_digits.segment import glyphs, segment


def sure_of_everything(masks: list[np.ndarray]) -> np.ndarray:
    """A classifier that is certain of any piece: the worst case for over-splitting."""
    probs = np.zeros((len(masks), 10))
    probs[:, 1] = 1.0
    return probs


def page(draw_fn) -> np.ndarray:
    img = Image.new("1", (400, 120), 0)
    draw_fn(ImageDraw.Draw(img))
    return np.asarray(img, dtype=bool)


def test_a_wide_digit_among_narrow_ones_is_not_split() -> None:
    def draw(d: ImageDraw.ImageDraw) -> None:
        for x in (20, 80, 140):  # three ordinary digits, 30 px wide
            d.ellipse((x, 30, x + 30, 90), outline=1, width=4)
        d.rectangle((200, 30, 248, 90), outline=1, width=4)  # a wide one: 48 px, 1.6 times as wide
    parts = segment(page(draw), sure_of_everything)
    assert len(parts) == 4


def trusts_the_widest(masks: list[np.ndarray]) -> np.ndarray:
    """A classifier surest of the whole glyph (the widest mask) and less of its halves."""
    spans = np.array([np.ptp(np.flatnonzero(m.any(0))) for m in masks], np.float64)
    probs = np.zeros((len(masks), 10))
    probs[:, 5] = spans / spans.max()
    return probs


def test_a_very_wide_digit_the_classifier_trusts_whole_is_not_split() -> None:
    def draw(d: ImageDraw.ImageDraw) -> None:  # a 5 whose flag runs far right: 1.7 times as wide
        d.line((40, 30, 150, 30), fill=1, width=4)
        d.line((40, 30, 40, 60), fill=1, width=4)
        d.arc((30, 50, 90, 100), 270, 180, fill=1, width=4)
    parts = segment(page(draw), trusts_the_widest)
    assert len(parts) == 1


def test_a_detached_flag_joins_its_digit_and_a_point_stays_apart() -> None:
    def draw(d: ImageDraw.ImageDraw) -> None:
        for x in (20, 80):
            d.ellipse((x, 30, x + 30, 90), outline=1, width=4)
        d.line((140, 32, 140, 58), fill=1, width=4)  # a 5 whose flag is a separate stroke ...
        d.arc((128, 50, 170, 92), 250, 160, fill=1, width=4)
        d.line((164, 32, 190, 32), fill=1, width=4)  # ... off to the right, barely over the bowl
        d.ellipse((204, 84, 210, 90), fill=1)  # a decimal point
        d.ellipse((225, 30, 255, 90), outline=1, width=4)
    parts = segment(page(draw), trusts_the_widest)
    assert parts[2].x1 >= 190  # the flag is inside the 5's box
    assert len(parts) == 4  # 0, 0, 5, 0: the point is neither a digit nor part of one


def test_a_flag_lifted_above_its_five_joins_it() -> None:
    def draw(d: ImageDraw.ImageDraw) -> None:
        d.ellipse((20, 30, 50, 90), outline=1, width=4)
        d.line((80, 42, 80, 62), fill=1, width=4)  # a 5's stem and bowl ...
        d.arc((68, 54, 110, 92), 250, 160, fill=1, width=4)
        d.line((104, 32, 130, 30), fill=1, width=4)  # ... its flag a stroke above them, off to the right
    parts = segment(page(draw), trusts_the_widest)
    assert len(parts) == 2 and parts[1].y0 <= 32 and parts[1].x1 >= 130


def test_two_stray_dots_one_above_the_other_are_not_a_digit() -> None:
    def draw(d: ImageDraw.ImageDraw) -> None:
        d.line((60, 20, 60, 100), fill=1, width=6)  # a 1, and two taps of the pen beside it
        d.ellipse((90, 30, 96, 36), fill=1)
        d.ellipse((90, 88, 97, 98), fill=1)
    assert [(g.x0, g.x1) for g in glyphs(page(draw))] == [(58, 64)]

    def small(d: ImageDraw.ImageDraw) -> None:  # a small digit: specks over a quarter of its height
        d.line((60, 40, 60, 80), fill=1, width=3)
        d.rectangle((50, 45, 52, 55), fill=1)
        d.rectangle((50, 62, 51, 72), fill=1)
    assert len(glyphs(page(small))) == 1


def test_a_comma_is_dropped_not_joined_to_the_digit_before_it() -> None:
    def draw(d: ImageDraw.ImageDraw) -> None:
        for x in (20, 80, 160):
            d.ellipse((x, 30, x + 30, 90), outline=1, width=4)
        d.line((122, 82, 116, 108), fill=1, width=5)  # a comma after the second digit, below the line
    parts = segment(page(draw), trusts_the_widest)
    assert [(p.x0, p.x1) for p in parts] == [(20, 51), (80, 111), (160, 191)]


def test_touching_digits_are_still_split() -> None:
    def draw(d: ImageDraw.ImageDraw) -> None:
        for x in (20, 80, 140):
            d.ellipse((x, 30, x + 30, 90), outline=1, width=4)
        d.ellipse((200, 30, 230, 90), outline=1, width=4)  # two digits touching: 60 px together
        d.ellipse((228, 30, 258, 90), outline=1, width=4)
    parts = segment(page(draw), sure_of_everything)
    assert len(parts) == 5


def test_a_digit_with_a_long_tail_is_not_cut_into_a_digit_and_a_one() -> None:
    def draw(d: ImageDraw.ImageDraw) -> None:
        for x in (20, 80, 140):
            d.ellipse((x, 30, x + 30, 90), outline=1, width=4)
        d.ellipse((200, 30, 230, 90), outline=1, width=4)  # an 8's flourish or a 2's foot: touching,
        d.line((228, 40, 262, 22), fill=1, width=4)  # twice a digit's width, a third of its height
    def classify(masks: list[np.ndarray]) -> np.ndarray:
        """Like the model: sure of the 0 and of the tail alone (a 1), less of the whole, unsure of a
        cut through the 0."""
        widths = np.array([np.ptp(np.flatnonzero(m.any(0))) + 1 for m in masks])
        probs = np.zeros((len(masks), 10))
        probs[:, 1] = np.where(widths <= 40, 1.0, np.where(widths <= 60, 0.5, 0.8))
        return probs
    parts = segment(page(draw), classify)
    assert len(parts) == 4 and parts[3].x1 >= 262


def sure_of_narrow_pieces(masks: list[np.ndarray]) -> np.ndarray:
    """Sure of anything no wider than 36 px, in doubt about wider glyphs."""
    widths = np.array([np.ptp(np.flatnonzero(m.any(0))) + 1 for m in masks])
    probs = np.zeros((len(masks), 10))
    probs[:, 1] = np.where(widths <= 36, 1.0, 0.8)
    return probs


def test_a_one_touching_the_next_digit_is_split_off_it() -> None:
    def draw(d: ImageDraw.ImageDraw) -> None:
        for x in (20, 80, 140):
            d.ellipse((x, 30, x + 30, 90), outline=1, width=4)
        d.line((190, 30, 190, 90), fill=1, width=4)  # a 1 whose foot touches the 0 after it: together
        d.line((180, 88, 206, 88), fill=1, width=4)  # 1.7 times a digit's width
        d.ellipse((199, 30, 229, 90), outline=1, width=4)
    parts = segment(page(draw), sure_of_narrow_pieces)
    assert len(parts) == 5 and parts[3].x1 < 202 and parts[4].x1 == 230


def test_two_touching_digits_alone_are_split_when_the_parts_read_better() -> None:
    def draw(d: ImageDraw.ImageDraw) -> None:  # 17, the 1's foot touching the 7: a glyph as wide as tall
        d.line((100, 30, 100, 90), fill=1, width=4)
        d.line((88, 88, 130, 88), fill=1, width=4)
        d.line([(110, 30), (150, 30), (128, 90)], fill=1, width=4)

    def classify(masks: list[np.ndarray]) -> np.ndarray:  # in doubt about the two as one digit
        widths = np.array([np.ptp(np.flatnonzero(m.any(0))) + 1 for m in masks])
        probs = np.zeros((len(masks), 10))
        probs[:, 1] = np.where(widths <= 50, 1.0, 0.8)
        return probs
    parts = segment(page(draw), classify)
    assert len(parts) == 2 and parts[0].x1 <= 110


def test_a_wide_zero_is_not_cut_through_its_loop() -> None:
    def draw(d: ImageDraw.ImageDraw) -> None:
        for x in (20, 80, 140):
            d.ellipse((x, 30, x + 30, 90), outline=1, width=4)
        d.ellipse((190, 30, 240, 90), outline=1, width=4)  # 1.6 times as wide: each half reads as a 1
    parts = segment(page(draw), sure_of_narrow_pieces)
    assert len(parts) == 4


def test_a_four_in_two_strokes_is_one_digit() -> None:
    def draw(d: ImageDraw.ImageDraw) -> None:
        for x in (20, 80, 200):
            d.ellipse((x, 30, x + 30, 90), outline=1, width=4)
        d.line([(152, 30), (144, 68), (158, 68)], fill=1, width=4)  # the arm of a 4 ...
        d.line([(163, 40), (163, 90)], fill=1, width=4)  # ... and its stem, a few px away
    parts = segment(page(draw), sure_of_everything)
    assert len(parts) == 4
    assert parts[2].x0 <= 143 and parts[2].x1 >= 164


def test_predict_sees_a_two_stroke_four_as_one_digit() -> None:
    from handwritten_digits.abstain import digit_reason
    from handwritten_digits.preprocess import prepare
    img = Image.new("L", (300, 300), 230)
    d = ImageDraw.Draw(img)
    d.line([(140, 60), (110, 170), (165, 170)], fill=30, width=9)  # the arm ...
    d.line([(178, 100), (178, 250)], fill=30, width=9)  # ... and the stem, a few px to its right
    prep = prepare(img)
    assert digit_reason(prep.ink) is None


def test_tightly_cropped_number_is_read_whole() -> None:
    from PIL import ImageFont

    from handwritten_digits import Recognizer
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 110)
    rec = Recognizer.load()
    for text in ("1414", "2024", "1111"):
        img = Image.new("L", (600, 200), 235)
        ImageDraw.Draw(img).text((10, 100), text, fill=20, font=font, anchor="lm")
        a = np.asarray(img)
        ink = a < 128
        rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
        tight = a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]  # no margin: the ink touches every side
        assert rec.read(tight).text == text


def test_closely_spaced_ones_stay_apart() -> None:
    from handwritten_digits import Recognizer
    rec = Recognizer.load()
    for gap in (12, 20):
        img = Image.new("L", (80 + 4 * (10 + gap), 300), 235)
        d = ImageDraw.Draw(img)
        for k in range(4):
            x = 40 + k * (10 + gap)
            d.line([(x, 50), (x, 250)], fill=20, width=10)  # upright 1s, 200 px tall, 10 px wide
        assert rec.read(np.asarray(img)).text == "1111"


def test_a_piece_moves_only_to_a_digit_short_of_one() -> None:
    def draw(short: bool):
        def fn(d: ImageDraw.ImageDraw) -> None:
            d.ellipse((20, 30, 50, 90), outline=1, width=4)
            d.line((44, 24, 56, 24), fill=1, width=4)  # a piece over the first digit's columns
            d.ellipse((80, 54 if short else 30, 110, 90), outline=1, width=4)
            d.ellipse((140, 30, 170, 90), outline=1, width=4)
        return fn

    def likes_the_piece_in_the_second(masks: list[np.ndarray]) -> np.ndarray:
        probs = np.full((len(masks), 10), 0.04)
        probs[:, 3] = [0.99 if m[20:28, 44:58].any() and m[:, 80:].any() else 0.6 for m in masks]
        return probs

    tall, short = (segment(page(draw(s)), likes_the_piece_in_the_second) for s in (False, True))
    assert [(p.x0, p.x1) for p in tall] == [(20, 57), (80, 111), (140, 171)]  # a whole digit: stays
    assert [(p.x0, p.x1) for p in short] == [(20, 51), (44, 111), (140, 171)]  # a short one gets it
