"""Rendering primitives for the real-world evaluation sets: ink strokes, paper, lighting, camera.

Everything works on float32 arrays: an ink *alpha* is (H, W) coverage in [0, 1]; a page is
(H, W, 3) RGB in [0, 255]. Ink is laid on paper multiplicatively (ink absorbs light, so it darkens
whatever lighting and texture lie under it), lighting multiplies the whole page, and the camera adds
blur, sensor noise and JPEG at the end. All randomness comes from the `rng` passed in.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageFont
from scipy import ndimage

INKS = {  # RGB of the ink's own colour at full coverage
    "blue": (28, 42, 128),
    "black": (28, 28, 34),
    "red": (158, 32, 40),
    "green": (30, 90, 55),
}
PAPERS = {  # paper colour as the camera sees it under different light
    "white": (246, 244, 238),
    "warm": (243, 234, 214),
    "cool": (229, 235, 243),
    "grey": (212, 210, 204),
    "recycled": (236, 229, 206),
}
WORK_SCALE = 8  # MNIST tiles are upscaled 8x before skeletonising


def smooth_field(shape: tuple[int, int], rng: np.random.Generator, cells: int = 6) -> np.ndarray:
    """(H, W) float32 smooth random field in about [-1, 1]: bicubic upscale of a coarse grid."""
    h, w = shape
    gh, gw = max(2, cells * h // max(h, w) + 1), max(2, cells * w // max(h, w) + 1)
    grid = rng.uniform(-1, 1, (gh, gw)).astype(np.float32)
    return np.asarray(Image.fromarray(grid, "F").resize((w, h), Image.Resampling.BICUBIC))


def paper(shape: tuple[int, int], rng: np.random.Generator, colour: str | None = None,
          texture: float = 1.0) -> np.ndarray:
    """(H, W, 3) a sheet of paper: tinted, blotchy at low frequency, grainy at high frequency."""
    h, w = shape
    name = colour or str(rng.choice(list(PAPERS)))
    base = np.array(PAPERS[name], np.float32) + rng.normal(0, 4, 3).astype(np.float32)
    blotch = 1 + texture * rng.uniform(0.01, 0.035) * smooth_field(shape, rng, int(rng.integers(4, 12)))
    grain = rng.normal(0, texture * rng.uniform(0.8, 2.5), (h, w)).astype(np.float32)
    grain = ndimage.gaussian_filter(grain, 0.7)
    page = base[None, None, :] * blotch[..., None] + grain[..., None]
    return np.clip(page, 0, 255)


def lighting(shape: tuple[int, int], rng: np.random.Generator, strength: float = 0.12) -> np.ndarray:
    """(H, W) multiplicative illumination: a tilted plane plus vignetting, about 1 at the brightest."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xx, yy = xx / w - 0.5, yy / h - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    plane = np.cos(angle) * xx + np.sin(angle) * yy
    vignette = xx ** 2 + yy ** 2
    light = 1 - strength * (plane + 0.5) - rng.uniform(0, strength) * vignette * 2
    return (light / light.max()).astype(np.float32)


def shade(page: np.ndarray, light: np.ndarray) -> np.ndarray:
    return page * light[..., None]


def lay_ink(page: np.ndarray, alpha: np.ndarray, xy: tuple[int, int], ink: tuple[int, int, int],
            density: float = 1.0) -> np.ndarray:
    """Multiply-blend an ink alpha onto the page at top-left `xy`; parts outside the page are dropped."""
    h, w = alpha.shape
    x, y = xy
    y0, y1, x0, x1 = max(0, y), min(page.shape[0], y + h), max(0, x), min(page.shape[1], x + w)
    if y0 >= y1 or x0 >= x1:
        return page
    a = density * alpha[y0 - y:y1 - y, x0 - x:x1 - x, None]
    tint = np.array(ink, np.float32) / np.array([245.0, 243.0, 238.0], np.float32)
    page[y0:y1, x0:x1] *= (1 - a) + a * np.minimum(tint, 1)[None, None, :]
    return page


def ink_texture(alpha: np.ndarray, rng: np.random.Generator, kind: str = "pen") -> np.ndarray:
    """Uneven ink: pens fade smoothly along the stroke, pencil graphite is grainy."""
    if kind == "pencil":
        grain = rng.uniform(0, 1, alpha.shape).astype(np.float32)
        grain = ndimage.gaussian_filter(grain, 0.6)
        grain = np.clip((grain - grain.mean()) * 4 + 0.75, 0.3, 1)
        return alpha * grain
    fade = 1 - rng.uniform(0.05, 0.25) * (smooth_field(alpha.shape, rng, 5) + 1) / 2
    return alpha * fade


def rotate(alpha: np.ndarray, degrees: float) -> np.ndarray:
    img = Image.fromarray(alpha.astype(np.float32), "F")
    out = img.rotate(degrees, Image.Resampling.BICUBIC, expand=True, fillcolor=0.0)
    return np.clip(np.asarray(out), 0, 1)


def crop_to_ink(alpha: np.ndarray, pad: int = 0, level: float = 0.02) -> np.ndarray:
    rows, cols = np.nonzero(alpha > level)
    if len(rows) == 0:
        return alpha
    y0, y1 = max(0, rows.min() - pad), min(alpha.shape[0], rows.max() + 1 + pad)
    x0, x1 = max(0, cols.min() - pad), min(alpha.shape[1], cols.max() + 1 + pad)
    return alpha[y0:y1, x0:x1]


def _zhang_suen(mask: np.ndarray) -> np.ndarray:
    """Thin a boolean mask to a one-pixel skeleton (Zhang & Suen 1984, both sub-iterations vectorised)."""
    img = np.pad(mask.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = [np.roll(np.roll(img, -dy, 0), -dx, 1) for dy, dx in
                 ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))]
            b = sum(p)
            a = sum(((p[i] == 0) & (p[(i + 1) % 8] == 1)).astype(np.uint8) for i in range(8))
            if step == 0:
                c, d = p[0] * p[2] * p[4], p[2] * p[4] * p[6]
            else:
                c, d = p[0] * p[2] * p[6], p[0] * p[4] * p[6]
            drop = (img == 1) & (b >= 2) & (b <= 6) & (a == 1) & (c == 0) & (d == 0)
            if drop.any():
                img[drop] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def mnist_field(tile: np.ndarray, scale: int = WORK_SCALE) -> np.ndarray:
    """(28, 28) uint8 white-on-black -> smooth (H', W') coverage field in [0, 1], cropped to the digit."""
    t = tile.astype(np.float32) / 255
    t = crop_to_ink(t, pad=1, level=0.1)
    h, w = t.shape
    up = Image.fromarray(t, "F").resize((w * scale, h * scale), Image.Resampling.BICUBIC)
    return ndimage.gaussian_filter(np.clip(np.asarray(up), 0, 1), scale * 0.35)


def thin_ok(field: np.ndarray) -> bool:
    """Whether redrawing the skeleton with a pen keeps the digit: not when a loop was written filled
    in (a blob thins to a line, and a 6 would become an L). Blobs show as a skeleton point much
    farther from the edge than the typical stroke half-width."""
    mask = field > 0.45
    skel = _zhang_suen(mask)
    if not skel.any():
        return False
    radii = ndimage.distance_transform_edt(mask)[skel]
    return float(radii.max()) <= 2.0 * float(np.median(radii))


def stroke_alpha(field: np.ndarray, height: int, width: float | None) -> np.ndarray:
    """Ink alpha of a digit `height` px tall from a smooth coverage field.

    `width=None` keeps the writer's own (MNIST) stroke thickness with crisp edges; a number redraws
    the skeleton with a pen of that many pixels, so thin ballpoint and fat marker strokes both occur.
    """
    h, w = field.shape
    out = (max(2, round(w * height / h)), height)
    if width is None:
        f = np.asarray(Image.fromarray(field, "F").resize(out, Image.Resampling.BILINEAR))
        return np.clip((f - 0.42) / 0.16, 0, 1)
    skel = _zhang_suen(field > 0.45)
    if not skel.any():
        skel = field >= field.max()
    dist = ndimage.distance_transform_edt(~skel).astype(np.float32) * (height / h)
    d = np.asarray(Image.fromarray(dist, "F").resize(out, Image.Resampling.BILINEAR))
    return np.clip(width / 2 - d + 0.5, 0, 1)


def glyph_alpha(font_path: str, char: str, height: int) -> np.ndarray:
    """Ink alpha of one character rendered so its ink is about `height` px tall."""
    font = ImageFont.truetype(font_path, 200)
    probe = np.asarray(font.getmask(char), np.float32).reshape(font.getmask(char).size[::-1])
    ink_h = max(1, crop_to_ink(probe / 255).shape[0])
    font = ImageFont.truetype(font_path, max(6, round(200 * height / ink_h)))
    mask = font.getmask(char)
    a = np.asarray(mask, np.float32).reshape(mask.size[::-1]) / 255
    return crop_to_ink(a)


def has_glyph(font_path: str, char: str) -> bool:
    """False when the font would draw its 'missing glyph' box instead of `char`."""
    font = ImageFont.truetype(font_path, 48)
    missing = np.asarray(font.getmask("\ue123"))
    drawn = np.asarray(font.getmask(char))
    return not (drawn.shape == missing.shape and np.array_equal(drawn, missing))


def camera(page: np.ndarray, rng: np.random.Generator, blur: tuple[float, float] = (0.4, 1.1),
           noise: tuple[float, float] = (1.5, 5.0)) -> np.ndarray:
    """Lens blur and sensor noise (stronger in the dark, a little colour noise); -> uint8."""
    sigma = rng.uniform(*blur)
    img = ndimage.gaussian_filter(page, (sigma, sigma, 0))
    level = rng.uniform(*noise)
    lum = rng.normal(0, 1, img.shape[:2]).astype(np.float32)[..., None]
    chroma = rng.normal(0, 0.4, img.shape).astype(np.float32)
    shot = np.sqrt(np.clip(255 - img, 0, 255) / 255 + 0.5)  # darker pixels are noisier
    img = img + level * shot * (lum + chroma)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def encode(img: Image.Image, fmt: str, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    if fmt == "jpg":
        img.convert("RGB" if img.mode not in ("L", "RGB") else img.mode).save(
            buf, "JPEG", quality=quality, subsampling=2 if quality < 90 else 0)
    elif fmt == "tif":
        img.save(buf, "TIFF", compression="tiff_lzw")
    else:
        img.save(buf, "PNG", optimize=False)
    return buf.getvalue()


def save(img: Image.Image, path: Path, fmt: str, quality: int = 90) -> None:
    path.write_bytes(encode(img, fmt, quality))
