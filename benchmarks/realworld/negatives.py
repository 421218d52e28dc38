"""Negatives: images that hold no digit, where the only right answer is to abstain.

Clothing (Fashion-MNIST test), letters, blank pages, noise, a single line across, a single dot and
scribbled shapes, each as a drawing-app canvas or a phone photo of paper. Label is always null.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from benchmarks.realworld import render as R
from benchmarks.realworld import scenes as S
from benchmarks.realworld.sets import (
    CONFUSABLE,
    LETTER_EXTRA_FONTS,
    LETTERS,
    Builder,
    Item,
    Sources,
    clean_glyph,
    font_glyph,
    jpeg_quality,
    split_half,
)


def _record(variant: str, info: dict, source: dict | None = None, **extra) -> dict:
    return {"kind": "negative", "label": None, "text": None, "source": source or {},
            "params": info | {"variant": variant} | extra}


def _as_photo_or_canvas(alpha: np.ndarray, rng: np.random.Generator, variant: str, **extra) -> Item:
    if rng.random() < 0.5:
        img, info = S.canvas(alpha, rng)
        return Item(img, "png", _record(f"{variant}-canvas", info, **extra))
    img, info = S.photo(alpha, rng, frame=(640, 480))
    q = jpeg_quality(rng)
    return Item(img, "jpg", _record(f"{variant}-photo", info, **extra), q)


def fashion(rng: np.random.Generator, k: int, src: Sources) -> Item:
    ids = np.arange(len(src.fashion)) if src.fashion_ids is None else src.fashion_ids
    idx = int(ids[rng.integers(len(ids))])
    tile = src.fashion[idx]
    source = {"dataset": "fashion-mnist/test", "indices": [idx]}
    if rng.random() < 0.4:  # as-is, like an MNIST tile: white object on black
        side = int(rng.choice([28, 28, 56, 112]))
        img = Image.fromarray(tile, "L").resize((side, side), Image.Resampling.BILINEAR)
        return Item(img, "png", _record("tile", {"frame": [side, side]}, source))
    height = int(rng.integers(100, 301))
    alpha = np.asarray(Image.fromarray(tile.astype(np.float32) / 255, "F").resize(
        (height, height), Image.Resampling.BICUBIC))
    img, info = S.photo(np.clip(alpha, 0, 1), rng, frame=(640, 480) if height < 400 else None)
    q = jpeg_quality(rng)
    return Item(img, "jpg", _record("photo", info, source), q)


def letter(rng: np.random.Generator, k: int, src: Sources) -> Item:
    fonts = [*src.fonts, *split_half(LETTER_EXTRA_FONTS, src.split)]
    height = int(rng.integers(50, 201))
    font, char, alpha = font_glyph(rng, k, fonts, LETTERS, height)
    for _ in range(5):  # a font missing this letter would draw a box: pick another
        if R.has_glyph(font, char):
            break
        font, char, alpha = font_glyph(rng, k + 1 + int(rng.integers(100)), fonts, LETTERS, height)
    alpha = R.rotate(alpha, rng.uniform(-8, 8))
    extra = {"char": char, "confusable": char in CONFUSABLE}
    source = {"font": font.rsplit("/", 1)[-1]}
    if rng.random() < 0.4:
        img, info = clean_glyph(alpha, rng)
        return Item(img, "png", _record("clean", info, source, **extra))
    img, info = S.photo(R.ink_texture(alpha, rng), rng)
    q = jpeg_quality(rng)
    return Item(img, "jpg", _record("photo", info, source, **extra), q)


def blank(rng: np.random.Generator, k: int, src: Sources) -> Item:
    variant = ["paper-photo", "paper-photo", "white-canvas", "black-canvas", "ruled-photo"][k % 5]
    if variant.endswith("canvas"):
        side = int(rng.choice([280, 280, 200, 400]))
        if variant == "white-canvas" and rng.random() < 0.3:
            img = Image.new("RGBA", (side, side), (0, 0, 0, 0))  # an untouched transparent canvas
        else:
            img = Image.new("L", (side, side), 255 if variant == "white-canvas" else 0)
        return Item(img, "png", _record(variant, {"frame": [side, side]}))
    empty = np.zeros((2, 2), np.float32)
    fake_box = (int(rng.integers(100, 400)), int(rng.integers(100, 300)), 60, 90)
    decorate = None
    if variant == "ruled-photo":
        def decorate(page: np.ndarray, box: S.Box, r: np.random.Generator) -> dict:
            return (S.decorate_ruled if r.random() < 0.5 else S.decorate_grid)(page, fake_box, r)
    img, info = S.photo(empty, rng, decorate=decorate)
    q = jpeg_quality(rng)
    return Item(img, "jpg", _record(variant, info), q)


def noise(rng: np.random.Generator, k: int, src: Sources) -> Item:
    w, h = [(280, 280), (640, 480), (28, 28), (320, 240)][int(rng.integers(4))]
    variant = ["uniform-rgb", "gaussian-grey", "salt-pepper", "clouds"][k % 4]
    if variant == "uniform-rgb":
        arr = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
    elif variant == "gaussian-grey":
        arr = np.clip(rng.normal(128, 50, (h, w)), 0, 255).astype(np.uint8)
    elif variant == "salt-pepper":
        arr = np.full((h, w), 255, np.uint8)
        arr[rng.random((h, w)) < rng.uniform(0.02, 0.2)] = 0
    else:
        f = sum(R.smooth_field((h, w), rng, c) / (i + 1) for i, c in enumerate((3, 8, 20)))
        arr = np.clip(128 + 70 * f, 0, 255).astype(np.uint8)
    return Item(Image.fromarray(arr), "png", _record(variant, {"frame": [w, h]}))


def _draw(size: tuple[int, int], paint) -> np.ndarray:
    """Alpha from PIL drawing at 2x (anti-aliased by downsampling)."""
    w, h = size
    layer = Image.new("L", (w * 2, h * 2), 0)
    paint(ImageDraw.Draw(layer), 2)
    return np.asarray(layer.resize((w, h), Image.Resampling.BOX), np.float32) / 255


def line(rng: np.random.Generator, k: int, src: Sources) -> Item:
    """One straight line from edge to edge at any angle."""
    canvas = rng.random() < 0.5
    w, h = (280, 280) if canvas else (640, 480)
    width = float(rng.uniform(3, 16) if canvas else rng.uniform(2, 9))
    angle = rng.uniform(0, np.pi)
    cx, cy, r = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h, 2 * max(w, h)
    pts = [cx - r * np.cos(angle), cy - r * np.sin(angle), cx + r * np.cos(angle), cy + r * np.sin(angle)]
    alpha = _draw((w, h), lambda d, s: d.line([p * s for p in pts], fill=255, width=round(width * s)))
    extra = {"angle_deg": round(float(np.degrees(angle)), 1), "width": round(width, 1)}
    return _full_frame(alpha, rng, canvas, "line", **extra)


def _full_frame(alpha: np.ndarray, rng: np.random.Generator, canvas: bool, variant: str, **extra) -> Item:
    """A drawing that must keep its place in the frame (a line must reach the edges)."""
    h, w = alpha.shape
    if canvas:
        img = Image.fromarray(255 - np.round(alpha * 255).astype(np.uint8), "L")
        return Item(img, "png", _record(f"{variant}-canvas", {"frame": [w, h]}, **extra))
    page = R.paper((h, w), rng)
    R.lay_ink(page, R.ink_texture(alpha, rng), (0, 0), R.INKS[str(rng.choice(["blue", "black"]))])
    page = R.shade(page, R.lighting((h, w), rng))
    q = jpeg_quality(rng)
    return Item(Image.fromarray(R.camera(page, rng)), "jpg", _record(f"{variant}-photo", {"frame": [w, h]},
                                                                   **extra), q)


def dot(rng: np.random.Generator, k: int, src: Sources) -> Item:
    canvas = rng.random() < 0.5
    w, h = (280, 280) if canvas else (640, 480)
    r = float(rng.uniform(2, 15))
    cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h
    ry = r * rng.uniform(0.7, 1.3)
    alpha = _draw((w, h), lambda d, s: d.ellipse([(cx - r) * s, (cy - ry) * s, (cx + r) * s, (cy + ry) * s],
                                                 fill=255))
    return _full_frame(alpha, rng, canvas, "dot", radius=round(r, 1))


def scribble(rng: np.random.Generator, k: int, src: Sources) -> Item:
    """Pictures and scribbles: star, triangle, house, hatching, a tangled random walk."""
    side = 240
    shape = ["star", "triangle", "house", "hatch", "tangle", "blob"][k % 6]
    width = max(2, int(rng.uniform(3, 10)))
    c, rad = side / 2, side * rng.uniform(0.3, 0.45)

    def paint(d: ImageDraw.ImageDraw, s: int) -> None:
        if shape == "star":
            t = np.linspace(0, 2 * np.pi, 11)[:-1] + rng.uniform(0, 1)
            rr = np.where(np.arange(10) % 2 == 0, rad, rad * 0.4)
            d.polygon(_polar(rr, t, c, s), outline=255, width=width * s)
        elif shape == "triangle":
            p = rng.uniform(0.1, 0.9, (3, 2)) * side * s
            d.polygon([tuple(v) for v in p], outline=255, width=width * s)
        elif shape == "house":
            x0, y0, x1, y1 = [v * s for v in (c - rad, c, c + rad, c + rad)]
            d.rectangle([x0, y0, x1, y1], outline=255, width=width * s)
            d.line([x0, y0, c * s, (c - rad) * s, x1, y0], fill=255, width=width * s)
            d.rectangle([(c - rad / 4) * s, (c + rad / 3) * s, (c + rad / 4) * s, y1], outline=255,
                        width=width * s)
        elif shape == "hatch":
            for off in np.linspace(-rad, rad, int(rng.integers(5, 12))):
                d.line([(c - rad + off) * s, (c - rad) * s, (c + off) * s, (c + rad) * s], fill=255,
                       width=width * s)
        elif shape == "tangle":
            steps = np.cumsum(rng.normal(0, 1, (400, 2)), 0)
            steps = (steps - steps.mean(0)) / (np.abs(steps).max() + 1e-6) * rad + c
            d.line([tuple(v * s) for v in steps], fill=255, width=width * s, joint="curve")
        else:
            t = np.linspace(0, 2 * np.pi, 40)
            rr = rad * (1 + 0.35 * np.sin(3 * t + rng.uniform(0, 6)) + 0.15 * np.sin(5 * t))
            d.polygon(_polar(rr, t, c, s), fill=255)

    alpha = R.crop_to_ink(_draw((side, side), paint))
    return _as_photo_or_canvas(alpha, rng, shape)


def _polar(radii: np.ndarray, angles: np.ndarray, centre: float, s: int) -> list[tuple[float, float]]:
    xs, ys = s * (centre + radii * np.cos(angles)), s * (centre + radii * np.sin(angles))
    return list(zip(xs.tolist(), ys.tolist(), strict=True))


NEGATIVES: dict[str, tuple[float, Builder]] = {
    "fashion": (0.25, fashion), "letters": (0.25, letter), "blank": (0.15, blank), "noise": (0.1, noise),
    "line": (0.1, line), "dot": (0.075, dot), "scribble": (0.075, scribble)}
