"""Cut a line of handwritten digits into one mask per digit, left to right.

Connected components whose x-ranges overlap are pieces of one digit (a 5 or a 4 written in two
strokes) and are merged; a glyph much wider than a digit is tried at its thinnest columns and split
where the classifier is most confident in the parts; one only a little wider (a 1 touching its
neighbour) is split only where the classifier doubts it whole and is sure of both parts. The
classifier is passed in as a function, so this module knows nothing about models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from handwritten_digits.masks import Components, components, enclosed

MAX_DIGITS = 20
MERGE_OVERLAP = 0.4  # of the narrower piece: x-overlap that makes two pieces one digit
MIN_HEIGHT = 0.3  # of the tallest glyph: shorter glyphs (dots, dashes, specks) are not digits
SPLIT_ASPECT = 1.25  # width / height above which a glyph may be two or more touching digits
SPLIT_WIDTH = 1.75  # of the number's typical digit width: narrower glyphs are never split
MIN_GLYPHS_FOR_WIDTH = 3  # glyphs needed before their median width is trusted as one digit's
MIN_TYPICAL = 0.5  # of the median glyph height: the typical digit width is at least this
MERGE_NARROW = 0.6  # of the typical width: both pieces narrower than this ...
MERGE_GAP = 0.25  # ... closer than this ...
MERGE_WIDTH = 1.1  # ... and together no wider than this are one digit written in two strokes
FRAGMENT = 0.5  # of the median digit height: a shorter piece (not a dot) that touches or overlaps a
FRAGMENT_GAP = 0.1  # digit's columns (within this much of its height) is part of it: a 5's flag
FRAGMENT_ABOVE = 0.25  # of the median digit height: ... also when it floats this far above the digit
DOT = 0.3  # of the median digit height (in `glyphs`, the tallest piece's): pieces no bigger than this
# either way are dots, left alone
CUTS_TRIED = 5  # thinnest columns tried as cut points per glyph
SPLIT_GAIN = 1.0  # a split must raise the parts' geometric-mean confidence above the whole's by this
NARROW_SPLIT_WIDTH = 1.2  # of the typical width: from here to SPLIT_WIDTH a glyph is split only ...
NARROW_SPLIT_ASPECT = 1.0  # width / height: the same, where the number is too short to know a digit's width
NARROW_WHOLE = 0.95  # ... when the classifier is less sure than this of it as one digit ...
NARROW_PARTS = 0.99  # ... and at least this sure of each part (and the cut opens no loop)
SPLIT_HEIGHT = 0.65  # of the number's digit height: a cut leaving a shorter part cuts off a tail
PIECE = 0.5  # of the digits' height: a component shorter than this (and narrower than a digit is
PIECE_SPECK = 0.08  # tall, and not smaller than this) may be a piece of either neighbouring digit ...
PIECE_REACH = 0.5  # ... that lies within this much of it
PIECE_SHORT = 0.75  # of the digits' height: a part shorter than this may be missing a piece, and
PIECE_SHORT_COST = float(np.log(0.3))  # its reading counts as one this sure
PIECE_GAIN = 0.05  # a piece moves when the summed log-confidence of the parts rises by more than this

Classify = Callable[[list[np.ndarray]], np.ndarray]  # masks -> (N, 10) probabilities


@dataclass
class Glyph:
    mask: np.ndarray  # (h, w) bool at working scale, the size of the whole page
    x0: int
    x1: int
    y0: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def crop(self) -> np.ndarray:
        """(height, width) bool: the mask inside the glyph's box."""
        return self.mask[self.y0:self.y1, self.x0:self.x1]


def glyphs(page: np.ndarray, comps: Components | None = None) -> list[Glyph]:
    """Components merged by x-overlap, short pieces joined to the digit they belong to, small ones
    dropped, sorted left to right (`comps`: the page's components, when the caller has them)."""
    comps = components(page) if comps is None else comps
    n = comps.n
    boxes = [(s[1].start, s[1].stop, s[0].start, s[0].stop) for s in comps.boxes]
    # dots (specks, stray taps of a pen) may join a digit's pieces, never each other: two dots one
    # above the other would make a glyph as tall as a digit
    tallest = max((b[3] - b[2] for b in boxes), default=0)
    dot = [max(b[1] - b[0], b[3] - b[2]) <= DOT * tallest for b in boxes]
    groups: list[list[int]] = []
    spans: list[list[int]] = []
    for i in sorted(range(n), key=lambda i: boxes[i][0]):
        x0, x1, y0, y1 = boxes[i]
        for g, span in zip(groups, spans, strict=True):
            if dot[i] and all(dot[j] for j in g):
                continue
            overlap = min(x1, span[1]) - max(x0, span[0])
            if overlap >= MERGE_OVERLAP * min(x1 - x0, span[1] - span[0]):
                g.append(i)
                span[:] = [min(span[0], x0), max(span[1], x1), min(span[2], y0), max(span[3], y1)]
                break
        else:
            groups.append([i])
            spans.append([x0, x1, y0, y1])
    out = [Glyph(comps.select(np.asarray(g) + 1), s[0], s[1], s[2], s[3])
           for g, s in zip(groups, spans, strict=True)]
    shortest = MIN_HEIGHT * max((g.height for g in out), default=0)
    return sorted((g for g in _merge_fragments(out, shortest) if g.height >= shortest), key=lambda g: g.x0)


def _merge_fragments(found: list[Glyph], shortest: float) -> list[Glyph]:
    """Join each piece much shorter than the digits to the digit whose columns it touches or overlaps,
    when it lies in that digit's upper half: a detached flag of a 5, the broken-off bar of a 7 or loop
    of a 9. A short piece wholly below the middle of the line is punctuation (a comma) and is dropped;
    dots, dashes (mid-height) and pieces standing apart are left alone. Glyphs shorter than `shortest`
    are not digits (they do not count towards a digit's height); the result is unordered."""
    if len(found) < 2:
        return found
    height = float(np.median([g.height for g in found if g.height >= shortest]))
    big = [g for g in found if g.height >= FRAGMENT * height]  # never empty: the tallest is in it
    middle = float(np.median([(g.y0 + g.y1) / 2 for g in big]))
    alone = []
    for piece in (g for g in found if g.height < FRAGMENT * height):
        k = min(range(len(big)), key=lambda k: _gap(big[k], piece))
        near = big[k]
        # in the digit's upper half, or floating just above it (a 5's flag lifted off its body)
        upper = piece.y1 >= near.y0 - FRAGMENT_ABOVE * height \
            and (piece.y0 + piece.y1) / 2 < near.y0 + near.height / 2
        if upper and max(piece.width, piece.height) > DOT * height \
                and _gap(near, piece) <= FRAGMENT_GAP * height:
            big[k] = _tight(near.mask | piece.mask)
        elif piece.y0 < middle:
            alone.append(piece)
    return big + alone


def _gap(a: Glyph, b: Glyph) -> int:
    """Columns between two glyphs (negative where their x-ranges overlap)."""
    return max(a.x0, b.x0) - min(a.x1, b.x1)


def cut(glyph: Glyph, column: int) -> tuple[Glyph, Glyph]:
    """The glyph's ink left and right of page column `column`, each with its own tight box."""
    left, right = glyph.mask.copy(), glyph.mask.copy()
    left[:, column:] = False
    right[:, :column] = False
    return _tight(left), _tight(right)


def cut_points(glyph: Glyph) -> list[int]:
    """Page columns where the glyph is thinnest, away from its ends."""
    counts = glyph.crop.sum(0).astype(np.float64)
    w = len(counts)
    lo, hi = max(1, round(0.2 * w)), min(w - 1, round(0.8 * w))
    if hi <= lo:
        return []
    smooth = ndimage.uniform_filter1d(counts, 3)[lo:hi]
    order = np.argsort(smooth, kind="stable")
    picked: list[int] = []
    for k in order:
        if all(abs(int(k) - p) > 0.1 * w for p in picked):
            picked.append(int(k))
        if len(picked) == CUTS_TRIED:
            break
    return [glyph.x0 + lo + p for p in picked]


def split_touching(glyph: Glyph, classify: Classify, depth: int = 0, typical: float | None = None,
                   tall: float | None = None) -> list[Glyph]:
    """The glyph as one digit, or split at the cut whose parts the classifier trusts most.
    `typical`, `tall`: the usual width and height of one digit in this number, when known."""
    if depth > 4:
        return [glyph]
    narrow = False  # a little wider than its neighbours: a 1 touching another digit, or a wide digit
    if typical is not None:  # as wide as its neighbours: one digit, however sure the classifier is
        if glyph.width < NARROW_SPLIT_WIDTH * typical:  # about its halves
            return [glyph]
        narrow = glyph.width < SPLIT_WIDTH * typical
    elif glyph.width <= NARROW_SPLIT_ASPECT * glyph.height:
        return [glyph]
    else:
        narrow = glyph.width <= SPLIT_ASPECT * glyph.height
    options = [cut(glyph, c) for c in cut_points(glyph)]
    # touching digits are each about as tall as the number; a part much shorter is a digit's tail,
    # flag or crossbar (a 2's foot, an 8's flourish), which reads as a confident 1 on its own
    shortest = SPLIT_HEIGHT * (glyph.height if tall is None else tall)
    options = [(a, b) for a, b in options if min(a.height, b.height) >= shortest]
    if narrow:  # a cut through a loop halves a wide 0 or 8 into two confident 1s
        holes = enclosed(glyph.crop)
        options = [(a, b) for a, b in options if enclosed(a.crop) + enclosed(b.crop) >= holes]
    if not options:
        return [glyph]
    probs = classify([glyph.mask] + [p.mask for pair in options for p in pair])
    conf = probs.max(1)
    whole = conf[0]
    if narrow:  # only when the classifier doubts the whole and is sure of both parts
        parts = np.minimum(conf[1::2], conf[2::2])
        best = int(np.argmax(parts))
        if whole >= NARROW_WHOLE or parts[best] < NARROW_PARTS:
            return [glyph]
    else:
        pair_scores = np.sqrt(conf[1::2] * conf[2::2])
        best = int(np.argmax(pair_scores))
        # however wide the glyph (a 5 with a long flag, a 2 with a long tail), split only when the
        # parts read better than the whole
        if pair_scores[best] < SPLIT_GAIN * whole:
            return [glyph]
    a, b = options[best]
    return split_touching(a, classify, depth + 1, typical, tall) \
        + split_touching(b, classify, depth + 1, typical, tall)


def segment(page: np.ndarray, classify: Classify) -> list[Glyph]:
    """One glyph per digit, left to right (at most MAX_DIGITS + 1, so a caller can see too many)."""
    comps = components(page)
    return settle_pieces(split_glyphs(glyphs(page, comps), classify), comps, classify)


def split_glyphs(found: list[Glyph], classify: Classify) -> list[Glyph]:
    """`segment` for a page whose `glyphs` the caller already has."""
    if len(found) > MAX_DIGITS:
        return found[:MAX_DIGITS + 1]
    # with several glyphs, the median width is one digit's (most digits of a number do not touch)
    typical = tall = None
    if len(found) >= MIN_GLYPHS_FOR_WIDTH:
        median = float(np.median([g.width for g in found]))
        found = merge_strokes(found, median)  # pieces are judged against the glyphs as they are ...
        # ... splits against at least half a digit's height: a number of upright 1s says little
        # about how wide its other digits are
        tall = float(np.median([g.height for g in found]))
        typical = max(median, MIN_TYPICAL * tall)
    out: list[Glyph] = []
    for g in found:
        out.extend(split_touching(g, classify, typical=typical, tall=tall))
    return out


def merge_strokes(found: list[Glyph], typical: float, narrow_frac: float = 0.0) -> list[Glyph]:
    """Join neighbours that are one digit written in two strokes side by side (a 4 whose stem does
    not touch its arm, a broken 1): both narrow, almost touching, and together no wider than one
    digit of this number. `narrow_frac` overrides MERGE_NARROW (1 where only one digit is expected)."""
    out = found[:1]
    for g in found[1:]:
        prev = out[-1]
        narrow = max(prev.width, g.width) < (narrow_frac or MERGE_NARROW) * typical
        close = g.x0 - prev.x1 < MERGE_GAP * typical
        if narrow and close and max(g.x1, prev.x1) - prev.x0 <= MERGE_WIDTH * typical:
            out[-1] = _tight(prev.mask | g.mask)
        else:
            out.append(g)
    return out


def _tight(mask: np.ndarray) -> Glyph:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if not len(rows):
        return Glyph(mask, 0, 0, 0, 0)
    return Glyph(mask, int(cols[0]), int(cols[-1]) + 1, int(rows[0]), int(rows[-1]) + 1)


def settle_pieces(parts: list[Glyph], comps: Components, classify: Classify) -> list[Glyph]:
    """Give a short piece to a short neighbouring digit that reads at least as surely with it: the
    flag of a 5 written apart from its body, dropped or joined to the digit after it. A piece is a
    component shorter than PIECE of the digits (left out by `glyphs`, or held whole by one digit that
    stays at least PIECE tall without it); a digit is short below PIECE_SHORT of the digits, and its
    reading then counts as one PIECE_SHORT_COST sure. The piece moves when the parts' summed
    log-confidence rises by more than PIECE_GAIN, so a digit of full height never takes a piece; neither
    the short digit nor the one the piece leaves may read less surely. Pieces are visited in label
    order; the parts keep theirs. A page with more pieces than digits is noisy and left as it is."""
    if not 2 <= len(parts) <= MAX_DIGITS:
        return parts
    parts = list(parts)
    tall = float(np.median([g.height for g in parts]))
    reach = PIECE_REACH * tall

    def confidence(found: list[Glyph]) -> tuple[np.ndarray, np.ndarray]:
        raw = np.log(np.maximum(classify([g.mask for g in found]).max(1), 1e-9))
        short = np.array([g.height < PIECE_SHORT * tall for g in found])
        return raw, raw + np.where(short, PIECE_SHORT_COST, 0.0)

    pieces = [k for k, (ys, xs) in enumerate(comps.boxes)
              if ys.stop - ys.start < PIECE * tall and xs.stop - xs.start < tall
              and max(ys.stop - ys.start, xs.stop - xs.start) >= PIECE_SPECK * tall]
    if len(pieces) > len(parts):  # more loose pieces than digits: noise, not a digit's strokes
        return parts
    for k in pieces:
        ys, xs = comps.boxes[k]
        inside = comps.labels[ys, xs] == k + 1
        held = [i for i, g in enumerate(parts) if g.mask[ys, xs][inside].any()]
        if len(held) > 1 or (held and not parts[held[0]].mask[ys, xs][inside].all()):
            continue  # a piece cut by a split belongs to the cut's parts
        owner = held[0] if held else None
        near = [i for i, g in enumerate(parts) if i != owner and g.height < PIECE_SHORT * tall
                and max(g.x0, xs.start) - min(g.x1, xs.stop) <= reach
                and max(g.y0 - reach, ys.start) < min(g.y1 + reach, ys.stop)]
        if not near:
            continue
        piece = np.zeros_like(parts[0].mask)
        piece[ys, xs] = inside
        rest = None if owner is None else _tight(parts[owner].mask & ~piece)
        if rest is not None and rest.height < PIECE * tall:
            continue
        joined = [_tight(parts[i].mask | piece) for i in near]
        raw, scored = confidence([parts[i] for i in near] + joined
                                 + ([parts[owner], rest] if rest is not None else []))
        n = len(near)
        gains = scored[n:2 * n] - scored[:n]
        if rest is not None:
            gains += scored[-1] - scored[-2]
            if raw[-1] < raw[-2]:  # the digit it leaves must not read less surely either
                continue
        gains[raw[n:2 * n] < raw[:n]] = -np.inf  # the receiver must not read less surely
        best = int(np.argmax(gains))
        if gains[best] > PIECE_GAIN:
            if rest is not None:
                parts[owner] = rest
            parts[near[best]] = joined[best]
    return parts
