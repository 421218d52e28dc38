"""Synthetic images for the "not a digit" gate: what a digit is not, and digits drawn the same way.

Negatives are letters and symbols (printed, or written as wobbly pen strokes with the single-stroke
Hershey plotter fonts), pairs of touching MNIST training digits, Fashion-MNIST *training* images,
scribbles, shapes, hatching, stars and noise. `font_digits` draws digits with the same fonts and pens so
that the gate judges shapes, not typefaces. Every image is raw (uint8, any size, either polarity): the
gate's trainer passes it through `preprocess.prepare` like any input.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from handwritten_digits.data.datasets import load_split
from handwritten_digits.errors import DigitsError

# Printed fonts for letters and for the matching digits. The real-world benchmark draws its letters
# from handwriting fonts and three DejaVu faces; none of those are used here.
FONT_DIR = Path("/usr/share/fonts/truetype")
FONTS = ("dejavu/DejaVuSans-Oblique.ttf", "dejavu/DejaVuSansCondensed.ttf",
         "dejavu/DejaVuSerif-Italic.ttf", "dejavu/DejaVuSansMono.ttf", "dejavu/DejaVuSans-ExtraLight.ttf",
         "dejavu/DejaVuSerifCondensed-Bold.ttf", "liberation/LiberationSans-Regular.ttf",
         "liberation/LiberationSerif-Italic.ttf", "liberation/LiberationMono-Bold.ttf",
         "liberation/LiberationSansNarrow-Regular.ttf")
# Letters that no one would read as a digit (O, l, I, S, Z, B, g, q, ... are left out) and symbols.
NOT_DIGITS = "acdefhjkmnprtuvwxyACEFHJKLMNPRTUVWXY#@%&?=$"
# Single-stroke (simplex) Hershey fonts: drawn as pen strokes they look written, not printed.
PEN_FONTS = ("futural", "rowmans")
KINDS = {"letter": 0.25, "pen_letter": 0.25, "fashion": 0.2, "scribble": 0.1, "pair": 0.1, "shape": 0.05,
         "hatch": 0.05, "star": 0.05, "noise": 0.05}


def _fonts() -> list[str]:
    found = [str(FONT_DIR / f) for f in FONTS if (FONT_DIR / f).is_file()]
    if not found:
        raise DigitsError(f"no fonts for the gate's letters under {FONT_DIR} (install fonts-dejavu)")
    return found


def _canvas(rng: np.random.Generator, side: int = 112) -> tuple[Image.Image, ImageDraw.ImageDraw, int]:
    width = int(rng.integers(2, 9))
    img = Image.new("L", (side, side), 0)
    return img, ImageDraw.Draw(img), width


def _glyph(rng: np.random.Generator, fonts: list[str], chars: str) -> Image.Image:
    font = ImageFont.truetype(fonts[int(rng.integers(len(fonts)))], int(rng.integers(50, 90)))
    img = Image.new("L", (112, 112), 0)
    ImageDraw.Draw(img).text((56, 56), chars[int(rng.integers(len(chars)))], fill=255, font=font,
                             anchor="mm")
    return img.rotate(float(rng.uniform(-15, 15)), resample=Image.Resampling.BICUBIC)


@functools.cache
def _pen_strokes(font: str, char: str) -> list[np.ndarray]:
    try:
        from HersheyFonts import HersheyFonts
    except ImportError:
        raise DigitsError("training the gate needs Hershey-Fonts (pip install -e '.[dev]')") from None
    f = HersheyFonts()
    f.load_default_font(font)
    f.normalize_rendering(1.0)
    return [np.array(s, np.float64) for s in f.strokes_for_text(char) if len(s) > 1]


def _wobble(points: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """The polyline resampled every ~3 px and bent by a smooth random displacement (a hand's wobble)."""
    dense = [points[0]]
    for a, b in zip(points[:-1], points[1:], strict=True):
        n = max(1, int(np.linalg.norm(b - a) / 3))
        dense += [a + (b - a) * t for t in np.linspace(0, 1, n + 1)[1:]]
    q = np.array(dense)
    s = np.linspace(0, 1, len(q))[:, None]
    bend = amount * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * s + rng.uniform(0, 2 * np.pi, 2))
    return q + bend + rng.normal(0, 0.15 * amount, q.shape)


def _pen_glyph(rng: np.random.Generator, chars: str, side: int = 112) -> Image.Image:
    """One character of a Hershey font written with a pen: random size, slant, aspect, tilt, wobble."""
    strokes = _pen_strokes(PEN_FONTS[int(rng.integers(len(PEN_FONTS)))], chars[int(rng.integers(len(chars)))])
    points = np.concatenate(strokes)
    lo, hi = points.min(0), points.max(0)
    height = float(rng.uniform(50, 85))
    scale = height / max(hi[1] - lo[1], 1e-6)
    a = np.deg2rad(rng.uniform(-12, 12))
    # y flips (the font's y points up); x gets an aspect change and a slant
    m = np.array([[scale * rng.uniform(0.75, 1.25), 0.0], [0.0, -scale]])
    m = m @ np.array([[1.0, 0.0], [rng.uniform(-0.35, 0.35), 1.0]])
    m = m @ np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    img, d, width = _canvas(rng, side)
    width += 1
    for stroke in strokes:
        q = _wobble((stroke - (lo + hi) / 2) @ m, rng, rng.uniform(0.5, 2.5)) + side / 2
        d.line([tuple(v) for v in q], fill=255, width=width, joint="curve")
        for x, y in (q[0], q[-1]):  # round pen ends
            d.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=255)
    return img


def _pair(rng: np.random.Generator, mnist: np.ndarray) -> Image.Image:
    """Two MNIST training digits side by side, touching or overlapping: one glyph, two digits. Teaches
    the gate that a glyph of a number holding two digits is not one digit (so `read` splits it)."""
    tiles = []
    for _ in range(2):
        t = mnist[int(rng.integers(len(mnist)))]
        cols = np.flatnonzero(t.max(0) > 40)
        tiles.append(t[:, cols[0]:cols[-1] + 1] if len(cols) else t)
    overlap = int(rng.integers(0, 5))
    width = tiles[0].shape[1] + tiles[1].shape[1] - overlap
    out = np.zeros((28, width + 8), np.uint8)
    out[:, 4:4 + tiles[0].shape[1]] = tiles[0]
    x = 4 + tiles[0].shape[1] - overlap
    out[:, x:x + tiles[1].shape[1]] = np.maximum(out[:, x:x + tiles[1].shape[1]], tiles[1])
    return Image.fromarray(out).resize((out.shape[1] * 4, 112), Image.Resampling.BICUBIC)


def _shape(rng: np.random.Generator) -> Image.Image:
    """A doodled triangle or quadrilateral, outlined or filled (more corners would pass for a 0)."""
    img, d, w = _canvas(rng)
    n = int(rng.integers(3, 5))
    t = np.arange(n) * 2 * np.pi / n + rng.uniform(0, 2 * np.pi) + rng.uniform(-0.3, 0.3, n)
    r = rng.uniform(28, 45, n)
    pts = [(56 + ri * np.cos(ti), 56 + ri * np.sin(ti)) for ri, ti in zip(r, t, strict=True)]
    if rng.random() < 0.3:
        d.polygon(pts, fill=255)
    else:
        d.polygon(pts, outline=255, width=w)
    return img


def _scribble(rng: np.random.Generator) -> Image.Image:
    img, d, w = _canvas(rng)
    pts = rng.uniform(15, 97, (int(rng.integers(6, 16)), 2))
    d.line([tuple(p) for p in pts], fill=255, width=w, joint="curve")
    return img


def _hatch(rng: np.random.Generator) -> Image.Image:
    img, d, w = _canvas(rng)
    n, angle = int(rng.integers(3, 7)), rng.uniform(0, math.pi)
    dx, dy = math.cos(angle) * 40, math.sin(angle) * 40
    for k in range(n):
        off = (k - n / 2) * rng.uniform(8, 14)
        cx, cy = 56 - math.sin(angle) * off, 56 + math.cos(angle) * off
        d.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=255, width=max(2, w // 2))
    return img


def _star(rng: np.random.Generator) -> Image.Image:
    img, d, w = _canvas(rng)
    n = int(rng.integers(3, 7))
    for k in range(n):
        a = math.pi * k / n + rng.uniform(-0.1, 0.1)
        r = rng.uniform(25, 45)
        d.line([(56 - r * math.cos(a), 56 - r * math.sin(a)), (56 + r * math.cos(a), 56 + r * math.sin(a))],
               fill=255, width=w)
    return img


def _noise(rng: np.random.Generator) -> Image.Image:
    a = rng.random((28, 28)) < rng.uniform(0.15, 0.5)
    return Image.fromarray((a * 255).astype(np.uint8)).resize((112, 112), Image.Resampling.BILINEAR)


def negatives(n: int, seed: int = 0, kinds: dict[str, float] = KINDS) -> list[np.ndarray]:
    """`n` raw images (uint8, light on dark or dark on light) that hold no digit, drawn in the
    proportions of `kinds`."""
    rng = np.random.default_rng(seed)
    fonts = _fonts()
    fashion = load_split("fashion-mnist", "train-full").images.numpy() if "fashion" in kinds else None
    mnist = load_split("mnist", "train").images.numpy() if "pair" in kinds else None
    share = np.array(list(kinds.values()), np.float64)
    picks = rng.choice(list(kinds), size=n, p=share / share.sum())
    out = []
    for kind in picks:
        if kind == "letter":
            img = _glyph(rng, fonts, NOT_DIGITS)
        elif kind == "pen_letter":
            img = _pen_glyph(rng, NOT_DIGITS)
        elif kind == "fashion" and fashion is not None:
            tile = fashion[int(rng.integers(len(fashion)))]
            img = Image.fromarray(tile).resize((84, 84), Image.Resampling.BICUBIC)
        elif kind == "pair" and mnist is not None:
            img = _pair(rng, mnist)
        else:
            img = {"scribble": _scribble, "shape": _shape, "hatch": _hatch, "star": _star,
                   "noise": _noise}[kind](rng)
        a = np.asarray(img)
        out.append(255 - a if rng.random() < 0.5 else a)  # dark ink on paper half of the time
    return out


def font_digits(n: int, seed: int = 1) -> list[np.ndarray]:
    """`n` digits drawn exactly as the letters are (half printed, half pen strokes), so that the gate
    cannot go by the typeface or the pen."""
    rng = np.random.default_rng(seed)
    fonts = _fonts()
    out = []
    for i in range(n):
        glyph = _glyph(rng, fonts, "0123456789") if i % 2 else _pen_glyph(rng, "0123456789")
        a = np.asarray(glyph)
        out.append(255 - a if rng.random() < 0.5 else a)
    return out
