"""The evaluation sets: one builder per (set, condition), each making one item from its own seeded rng.

A builder gets the item's rng, its position `k` in the set and the shared `Sources`, and returns an
`Item`: the image, how to encode it, and the manifest fields (label or text, source indices, the
parameters drawn). Digits come only from the MNIST *test* split.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from benchmarks.realworld import render as R
from benchmarks.realworld import scenes as S

HANDWRITING_FONT_PACKAGES = ("fonts-sjfonts", "fonts-rufscript", "fonts-ecolier-court", "fonts-cabinsketch",
                             "fonts-lobster", "fonts-havana", "fonts-joscelyn", "fonts-levien-typoscript")
LETTER_EXTRA_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                      "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
                      "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CONFUSABLE = set("OoQDIlizZSsBbGgq")  # letters a careful reader could take for a digit


@dataclass
class Sources:
    digits: np.ndarray  # (N, 28, 28) uint8 MNIST test images, white on black
    labels: np.ndarray  # (N,) int
    fashion: np.ndarray  # (M, 28, 28) uint8 Fashion-MNIST test images
    fonts: list[str]  # handwriting font files from the allowed packages (this split's half)
    digit_order: dict[str, np.ndarray] = field(default_factory=dict)  # set -> permutation of indices
    fashion_ids: np.ndarray | None = None  # Fashion-MNIST indices this split may use (None: all)
    split: str = "score"  # "tune" (develop on) or "score" (report only): disjoint digits, fonts, seeds

    @functools.cached_property
    def digit_fonts(self) -> list[str]:
        return [f for f in self.fonts if all(R.has_glyph(f, c) for c in "0123456789")]


@dataclass
class Item:
    image: Image.Image
    fmt: str  # png | jpg | tif
    record: dict
    quality: int = 90


SPLITS = ("score", "tune")


def split_half(items: Sequence, split: str) -> Sequence:
    """This split's half: the tune split takes even positions, the score split odd ones."""
    return items[SPLITS.index(split) ^ 1::2]


Builder = Callable[[np.random.Generator, int, Sources], Item]


def _pick(src: Sources, name: str, k: int) -> int:
    order = src.digit_order[name]
    return int(order[k % len(order)])


def _pen(rng: np.random.Generator, height: int, lo: float = 0.03, hi: float = 0.12) -> float | None:
    """None keeps the writer's MNIST stroke; otherwise a pen width in pixels."""
    return None if rng.random() < 0.35 else max(1.8, height * rng.uniform(lo, hi))


def _digit_ink(src: Sources, idx: int, height: int, width: float | None, rng: np.random.Generator,
               tilt: float = 10, kind: str = "pen") -> np.ndarray:
    field = R.mnist_field(src.digits[idx])
    alpha = R.stroke_alpha(field, height, width if R.thin_ok(field) else None)
    return R.rotate(R.ink_texture(alpha, rng, kind), rng.uniform(-tilt, tilt))


def _digit_record(src: Sources, idx: int, info: dict, **extra) -> dict:
    return {"kind": "digit", "label": int(src.labels[idx]), "text": None,
            "source": {"dataset": "mnist/test", "indices": [idx]}, "params": info | extra}


def _rounded(width: float | None) -> float | None:
    """A pen width as the manifest records it (None: the writer's own MNIST stroke)."""
    return None if width is None else round(width, 1)


def jpeg_quality(rng: np.random.Generator, lo: int = 60, hi: int = 95) -> int:
    return int(rng.integers(lo, hi + 1))


def _canvas_ink(alpha: np.ndarray) -> np.ndarray:
    """A drawing app's ink: the pen's darkest reaches full strength."""
    return np.clip(alpha / max(alpha.max(), 1e-6), 0, 1)


# --- good conditions ---------------------------------------------------------------------------

def good_photo(rng: np.random.Generator, k: int, src: Sources) -> Item:
    idx, height = _pick(src, "good", k), int(rng.integers(60, 201))
    frame = S.PHOTO_FRAMES[int(rng.integers(len(S.PHOTO_FRAMES)))]
    height = min(height, int(min(frame) * 0.75))
    width = _pen(rng, height)
    img, info = S.photo(_digit_ink(src, idx, height, width, rng), rng, frame=frame)
    q = jpeg_quality(rng)
    return Item(img, "jpg", _digit_record(src, idx, info, height=height, pen=width, quality=q), q)


def good_canvas(rng: np.random.Generator, k: int, src: Sources) -> Item:
    idx, height = _pick(src, "good", k), int(rng.integers(120, 241))
    width = float(rng.uniform(3, 12))
    alpha = _digit_ink(src, idx, height, width, rng, tilt=5)
    alpha = _canvas_ink(alpha)
    img, info = S.canvas(alpha, rng, transparent=rng.random() < 0.3)
    return Item(img, "png", _digit_record(src, idx, info, height=height, pen=round(width, 1)))


def good_scan(rng: np.random.Generator, k: int, src: Sources) -> Item:
    idx, height = _pick(src, "good", k), int(rng.integers(70, 161))
    width = _pen(rng, height, 0.03, 0.08)
    img, info = S.scan(_digit_ink(src, idx, height, width, rng, tilt=6), rng, bilevel=rng.random() < 0.15)
    fmt = str(rng.choice(["png", "png", "tif", "jpg"])) if img.mode != "1" else "png"
    q = jpeg_quality(rng, 80, 95)
    return Item(img, fmt, _digit_record(src, idx, info, height=height, pen=width), q)


# --- bad conditions ----------------------------------------------------------------------------

def _bad(decorate: S.Decorate | None = None, shadow: bool = False, tilt: bool = False) -> Builder:
    def build(rng: np.random.Generator, k: int, src: Sources) -> Item:
        idx, height = _pick(src, "bad", k), int(rng.integers(60, 171))
        width = _pen(rng, height)
        alpha = _digit_ink(src, idx, height, width, rng)
        img, info = S.photo(alpha, rng, decorate=decorate, cast_shadow=shadow, tilt=tilt)
        q = jpeg_quality(rng)
        return Item(img, "jpg", _digit_record(src, idx, info, height=height, pen=width, quality=q), q)
    return build


def bad_pencil(rng: np.random.Generator, k: int, src: Sources) -> Item:
    idx, height = _pick(src, "bad", k), int(rng.integers(60, 171))
    width = max(1.5, height * rng.uniform(0.02, 0.06))
    alpha = _digit_ink(src, idx, height, width, rng, kind="pencil")
    grey = int(rng.integers(85, 135))
    graphite = (grey, grey + 2, grey + int(rng.integers(4, 14)))
    density = float(rng.uniform(0.45, 0.8))
    img, info = S.photo(alpha, rng, ink="black", ink_rgb=graphite, density=density, texture=1.6)
    info["ink"] = "pencil"
    q = jpeg_quality(rng)
    return Item(img, "jpg", _digit_record(src, idx, info, height=height, pen=round(width, 1),
                                          density=round(density, 2), quality=q), q)


def bad_small(rng: np.random.Generator, k: int, src: Sources) -> Item:
    idx, height = _pick(src, "bad", k), int(rng.integers(24, 41))
    width = max(1.6, height * rng.uniform(0.05, 0.12))
    frame = S.LARGE_FRAMES[int(rng.integers(len(S.LARGE_FRAMES)))]
    img, info = S.photo(_digit_ink(src, idx, height, width, rng), rng, frame=frame)
    q = jpeg_quality(rng, 70, 92)
    return Item(img, "jpg", _digit_record(src, idx, info, height=height, pen=_rounded(width), quality=q), q)


GOOD: dict[str, tuple[float, Builder]] = {
    "photo": (0.6, good_photo), "canvas": (0.2, good_canvas), "scan": (0.2, good_scan)}
BAD: dict[str, tuple[float, Builder]] = {
    "ruled": (1, _bad(S.decorate_ruled)), "grid": (1, _bad(S.decorate_grid)),
    "form-box": (1, _bad(S.decorate_box)), "pencil": (1, bad_pencil), "shadow": (1, _bad(shadow=True)),
    "perspective": (1, _bad(tilt=True)), "small": (1, bad_small)}


# --- broad marker, tight crop (not among the conditions) -------------------------------

def _marker_ink(src: Sources, k: int, rng: np.random.Generator
                ) -> tuple[int, int, float | None, np.ndarray]:
    """A digit redrawn with a marker whose stroke is 8-18% of the digit's height (MNIST's own is
    about 10%); a digit whose loops were written filled in keeps its own strokes (width None)."""
    idx, height = _pick(src, "marker", k), int(rng.integers(80, 241))
    width = height * float(rng.uniform(0.08, 0.18))
    width = width if R.thin_ok(R.mnist_field(src.digits[idx])) else None
    return idx, height, width, _digit_ink(src, idx, height, width, rng, tilt=8)


def marker_photo(rng: np.random.Generator, k: int, src: Sources) -> Item:
    """A photo cropped to the digit: it spans half to 85% of the frame's height."""
    idx, height, width, alpha = _marker_ink(src, k, rng)
    side = round(height / rng.uniform(0.5, 0.85))
    frame = (side + int(rng.integers(0, side // 3 + 1)), side)
    img, info = S.photo(alpha, rng, frame=frame)
    q = jpeg_quality(rng)
    return Item(img, "jpg", _digit_record(src, idx, info, height=height, pen=_rounded(width), quality=q), q)


def marker_canvas(rng: np.random.Generator, k: int, src: Sources) -> Item:
    """A drawing app's export, drawn with a fat brush."""
    idx, height, width, alpha = _marker_ink(src, k, rng)
    alpha = _canvas_ink(alpha)
    img, info = S.canvas(alpha, rng, size=round(height / rng.uniform(0.5, 0.85)))
    return Item(img, "png", _digit_record(src, idx, info, height=height, pen=_rounded(width)))


MARKER: dict[str, tuple[float, Builder]] = {"photo": (0.7, marker_photo), "canvas": (0.3, marker_canvas)}


# --- handwriting fonts -------------------------------------------------------------------------

def font_glyph(rng: np.random.Generator, k: int, fonts: list[str], chars: str, height: int
                ) -> tuple[str, str, np.ndarray]:
    font = fonts[k % len(fonts)]
    char = chars[(k // len(fonts) + int(rng.integers(len(chars)))) % len(chars)]
    return font, char, R.glyph_alpha(font, char, height)


def clean_glyph(alpha: np.ndarray, rng: np.random.Generator) -> tuple[Image.Image, dict]:
    """Black glyph on a white square a little larger than it, as typed into a drawing app."""
    side = int(max(alpha.shape) / rng.uniform(0.45, 0.8))
    return S.canvas(alpha, rng, size=side)


def font_digit(clean: bool) -> Builder:
    def build(rng: np.random.Generator, k: int, src: Sources) -> Item:
        height = int(rng.integers(40, 201))
        font, char, alpha = font_glyph(rng, k, src.digit_fonts, "0123456789", height)
        alpha = R.rotate(alpha if clean else R.ink_texture(alpha, rng), rng.uniform(-8, 8))
        img, info = clean_glyph(alpha, rng) if clean else S.photo(alpha, rng)
        q = jpeg_quality(rng)
        record = {"kind": "digit", "label": int(char), "text": None,
                  "source": {"font": font.rsplit("/", 1)[-1]}, "params": info | {"height": height}}
        return Item(img, "png" if clean else "jpg", record, q)
    return build


# --- numbers -----------------------------------------------------------------------------------

def number_ink(src: Sources, indices: list[int], height: int, rng: np.random.Generator
               ) -> tuple[np.ndarray, list[int]]:
    """One line of digits, same pen, natural spacing with jitter; some neighbours touch or overlap.

    Returns the line's alpha and, per gap, -1 where that pair was pushed together.
    """
    width = _pen(rng, height)
    fields = [R.mnist_field(src.digits[i]) for i in indices]
    if width is not None and not all(R.thin_ok(f) for f in fields):
        width = None
    glyphs = [R.stroke_alpha(f, int(height * rng.uniform(0.9, 1.08)), width) for f in fields]
    touching = rng.random() < 0.35
    gaps = []
    for _ in indices[1:]:
        tight = touching and rng.random() < 0.5
        gaps.append(int(height * (rng.uniform(-0.12, -0.02) if tight else rng.uniform(0.08, 0.4))))
    if touching and min(gaps, default=0) >= 0 and gaps:
        gaps[int(rng.integers(len(gaps)))] = int(height * rng.uniform(-0.12, -0.02))
    total_w = sum(g.shape[1] for g in glyphs) + sum(gaps) + 4
    line = np.zeros((int(height * 1.5), max(total_w, 4)), np.float32)
    x = 2
    for g, gap in zip(glyphs, [*gaps, 0], strict=True):
        y = int(height * 0.2 + rng.uniform(-0.06, 0.06) * height)
        h, w = g.shape
        line[y:y + h, x:x + w] = np.maximum(line[y:y + h, x:x + w], g[:line.shape[0] - y])
        x += w + gap
    line = R.rotate(R.ink_texture(R.crop_to_ink(line), rng), rng.uniform(-4, 4))
    return line, [-1 if g < 0 else g for g in gaps]


def number(scan: bool) -> Builder:
    def build(rng: np.random.Generator, k: int, src: Sources) -> Item:
        n = int(rng.integers(2, 9))
        order = src.digit_order["numbers"]
        indices = [int(order[(k * 8 + j) % len(order)]) for j in range(n)]
        frame = S.PHOTO_FRAMES[int(rng.integers(len(S.PHOTO_FRAMES)))]
        height = int(min(rng.uniform(40, 130), frame[0] * 0.8 / (n * 0.85), frame[1] * 0.5))
        alpha, gaps = number_ink(src, indices, height, rng)
        img, info = S.scan(alpha, rng) if scan else S.photo(alpha, rng, frame=frame)
        q = jpeg_quality(rng)
        text = "".join(str(int(src.labels[i])) for i in indices)
        record = {"kind": "number", "label": None, "text": text,
                  "source": {"dataset": "mnist/test", "indices": indices},
                  "params": info | {"height": height, "touching": -1 in gaps, "quality": q}}
        return Item(img, "png" if scan else "jpg", record, q)
    return build


FONTS: dict[str, tuple[float, Builder]] = {
    "photo": (0.6, font_digit(False)), "clean": (0.4, font_digit(True))}
NUMBERS: dict[str, tuple[float, Builder]] = {"photo": (0.8, number(False)), "scan": (0.2, number(True))}
