"""Scenes: an ink alpha written on a sheet and photographed, scanned or drawn, under a named condition.

A photo is built in the order light travels: paper -> printed rulings/boxes -> the writer's ink ->
lighting and shadows -> the tilted camera's perspective -> lens blur, sensor noise -> JPEG. Each
`decorate_*` draws what was printed on the paper before the digit was written, around the digit's
box `(x, y, w, h)`, so the lines really cross or touch the strokes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from benchmarks.realworld import render as R

Box = tuple[int, int, int, int]  # x, y, w, h in page pixels
Decorate = Callable[[np.ndarray, Box, np.random.Generator], dict]

PHOTO_FRAMES = ((640, 480), (480, 640), (800, 600), (1024, 768), (720, 540))
LARGE_FRAMES = ((2000, 1500), (1500, 2000), (1600, 1200))


def place(frame: tuple[int, int], size: tuple[int, int], rng: np.random.Generator,
          margin: int = 8) -> tuple[int, int]:
    """Top-left corner putting a (w, h) patch anywhere in a (W, H) frame, fully inside it."""
    (fw, fh), (w, h) = frame, size
    x = int(rng.integers(margin, max(margin + 1, fw - w - margin)))
    y = int(rng.integers(margin, max(margin + 1, fh - h - margin)))
    return x, y


def draw_lines(page: np.ndarray, lines: list[tuple[float, float, float, float]], width: float,
               colour: tuple[int, int, int], density: float = 1.0, rect: bool = False) -> None:
    """Anti-aliased printed lines (or rectangles when `rect`), drawn at 2x and multiplied onto the page."""
    h, w = page.shape[:2]
    ss = 2
    layer = Image.new("L", (w * ss, h * ss), 0)
    draw = ImageDraw.Draw(layer)
    for x0, y0, x1, y1 in lines:
        pts = [x0 * ss, y0 * ss, x1 * ss, y1 * ss]
        if rect:
            draw.rectangle(pts, outline=255, width=max(1, round(width * ss)))
        else:
            draw.line(pts, fill=255, width=max(1, round(width * ss)))
    alpha = np.asarray(layer.resize((w, h), Image.Resampling.BOX), np.float32) / 255
    R.lay_ink(page, alpha, (0, 0), colour, density)


def decorate_ruled(page: np.ndarray, box: Box, rng: np.random.Generator) -> dict:
    """Notebook rulings: light blue lines spaced about a digit's height, one through the digit."""
    x, y, w, h = box
    spacing = h * rng.uniform(0.55, 1.1)
    through = y + h * rng.uniform(0.2, 0.85)
    first = through - spacing * np.floor(through / spacing)
    rows = np.arange(first, page.shape[0], spacing)
    colour = (int(rng.integers(120, 175)), int(rng.integers(155, 200)), int(rng.integers(205, 235)))
    width = max(1.0, h * rng.uniform(0.015, 0.05))
    draw_lines(page, [(0, r, page.shape[1], r) for r in rows], width, colour, rng.uniform(0.6, 1))
    margin = rng.random() < 0.3
    if margin:  # the red margin line, sometimes right through the digit
        mx = x + w * rng.uniform(-0.3, 1.3)
        draw_lines(page, [(mx, 0, mx, page.shape[0])], width * 1.3, (215, 80, 90), rng.uniform(0.6, 1))
    return {"spacing": round(float(spacing), 1), "margin_line": bool(margin)}


def decorate_grid(page: np.ndarray, box: Box, rng: np.random.Generator) -> dict:
    """Squared paper: a 5 mm grid, so a digit spans one and a half to three squares."""
    x, y, w, h = box
    step = h * rng.uniform(0.33, 0.7)
    ox, oy = rng.uniform(0, step, 2)
    colour = (int(rng.integers(110, 190)),) * 2 + (int(rng.integers(170, 225)),)
    width = max(1.0, h * rng.uniform(0.01, 0.03))
    lines = [(0, r, page.shape[1], r) for r in np.arange(oy, page.shape[0], step)]
    lines += [(c, 0, c, page.shape[0]) for c in np.arange(ox, page.shape[1], step)]
    draw_lines(page, lines, width, colour, rng.uniform(0.5, 0.95))
    return {"step": round(float(step), 1)}


def decorate_box(page: np.ndarray, box: Box, rng: np.random.Generator) -> dict:
    """A printed form box around the digit; half the time tight enough that the strokes touch it."""
    x, y, w, h = box
    touching = rng.random() < 0.5
    lo, hi = (-0.06, 0.04) if touching else (0.08, 0.35)
    pad = h * rng.uniform(lo, hi, 4)  # left, top, right, bottom
    side = max(w + pad[0] + pad[2], h * 0.8)
    x0, y0 = x - pad[0], y - pad[1]
    x1, y1 = max(x0 + side, x + w + pad[2]), y + h + pad[3]
    colour = [(30, 30, 35), (70, 70, 80), (40, 60, 140), (170, 50, 60)][int(rng.integers(4))]
    width = max(1.5, h * rng.uniform(0.02, 0.05))
    boxes = [(x0, y0, x1, y1)]
    if rng.random() < 0.4:  # a comb of empty neighbouring boxes, as on a form's number field
        cell = x1 - x0
        boxes += [(x0 + k * cell, y0, x1 + k * cell, y1) for k in (-2, -1, 1, 2)]
    draw_lines(page, boxes, width, colour, rng.uniform(0.8, 1), rect=True)
    return {"touching": bool(touching), "comb": len(boxes) > 1}


def shadow(shape: tuple[int, int], box: Box, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """(H, W) light: a cast shadow over about half the page, its edge near the digit, or a hard gradient."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    bx, by, bw, bh = box
    cx, cy = bx + bw * rng.uniform(0, 1), by + bh * rng.uniform(0, 1)
    angle = rng.uniform(0, 2 * np.pi)
    dist = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
    if rng.random() < 0.65:
        soft = bh * rng.uniform(0.03, 0.6)
        depth = rng.uniform(0.45, 0.75)
        light = 1 - depth / (1 + np.exp(-dist / soft))
        info = {"shadow": "cast", "depth": round(float(depth), 2)}
    else:
        span = max(h, w) * rng.uniform(0.4, 0.9)
        depth = rng.uniform(0.55, 0.8)
        light = 1 - depth * np.clip(dist / span + 0.5, 0, 1)
        info = {"shadow": "gradient", "depth": round(float(depth), 2)}
    return light.astype(np.float32), info


def perspective_coeffs(dst: list[tuple[float, float]], src: list[tuple[float, float]]) -> list[float]:
    """PIL PERSPECTIVE coefficients mapping output points `dst` to input points `src`."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return list(np.linalg.solve(np.array(rows, float), np.array(rhs, float)))


def tilt_quad(frame: tuple[int, int], page: tuple[int, int], rng: np.random.Generator
              ) -> list[tuple[float, float]]:
    """Where the frame's corners (TL, TR, BR, BL) land on the page for a camera tilted 20-45 degrees.

    The far side (seen wider) is top, right, bottom or left; the writing stays upright apart from
    a roll of a few degrees, as a user holds the phone.
    """
    side = int(rng.integers(4))
    fw, fh = frame if side % 2 == 0 else frame[::-1]
    pw, ph = page
    ratio = rng.uniform(1.35, 2.1)  # far edge seen this much wider than the near edge
    cx, cy = pw / 2 + rng.uniform(-0.1, 0.1) * pw, ph / 2 + rng.uniform(-0.1, 0.1) * ph
    near, depth = fw * rng.uniform(0.8, 1.0), fh * rng.uniform(1.0, 1.3)
    half_n, half_f = near / 2, near * ratio / 2
    base = [(-half_f, -depth / 2), (half_f, -depth / 2), (half_n, depth / 2), (-half_n, depth / 2)]
    quad = []
    for i in range(4):  # turn the trapezoid by 90*side and re-assign corners so up stays up
        x, y = base[(i - side) % 4]
        for _ in range(side):
            x, y = -y, x
        quad.append((x, y))
    roll = np.radians(rng.uniform(-8, 8))
    c, s = np.cos(roll), np.sin(roll)
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in quad]


def warp(img: Image.Image, frame: tuple[int, int], quad: list[tuple[float, float]],
         fill: tuple[int, int, int]) -> Image.Image:
    fw, fh = frame
    coeffs = perspective_coeffs([(0, 0), (fw, 0), (fw, fh), (0, fh)], quad)
    return img.transform(frame, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC,
                         fillcolor=fill)



def photo(alpha: np.ndarray, rng: np.random.Generator, *, frame: tuple[int, int] | None = None,
          ink: str | None = None, ink_rgb: tuple[int, int, int] | None = None, density: float = 1.0,
          decorate: Decorate | None = None, cast_shadow: bool = False, tilt: bool = False,
          texture: float = 1.0) -> tuple[Image.Image, dict]:
    """A phone photo of `alpha` written on paper somewhere in the frame; -> (RGB image, parameters)."""
    frame = frame or PHOTO_FRAMES[int(rng.integers(len(PHOTO_FRAMES)))]
    ink = ink or str(rng.choice(["blue", "blue", "black", "black", "red", "green"]))
    info: dict = {"frame": list(frame), "ink": ink}
    if tilt:
        pw, ph = round(frame[0] * 1.8), round(frame[1] * 1.8)
        quad = tilt_quad(frame, (pw, ph), rng)
        out_xy = (rng.uniform(0.2, 0.8) * frame[0], rng.uniform(0.2, 0.8) * frame[1])
        centre = _to_page(out_xy, quad, frame)
        step = _to_page((out_xy[0], out_xy[1] + 10), quad, frame)
        scale = np.hypot(step[0] - centre[0], step[1] - centre[1]) / 10  # page px per frame px
        alpha = _resize(alpha, scale)
        xy = (round(centre[0] - alpha.shape[1] / 2), round(centre[1] - alpha.shape[0] / 2))
        shape = (ph, pw)
    else:
        # a long number wider than the frame is shrunk to fit: the photo must hold all of it
        fit = min(1.0, (frame[0] - 16) / alpha.shape[1], (frame[1] - 16) / alpha.shape[0])
        if fit < 1.0:
            alpha = _resize(alpha, fit)
            info["fit_scale"] = round(fit, 3)
        xy = place(frame, alpha.shape[::-1], rng)
        shape = (frame[1], frame[0])
    box = (xy[0], xy[1], alpha.shape[1], alpha.shape[0])
    if not tilt:
        info["ink_box"] = list(box)  # x, y, w, h of the (rotated) ink patch in the frame
    page = R.paper(shape, rng, texture=texture)
    if decorate is not None:
        info.update(decorate(page, box, rng))
    R.lay_ink(page, alpha, xy, ink_rgb or R.INKS[ink], density)
    light = R.lighting(shape, rng, rng.uniform(0.05, 0.2))
    if cast_shadow:
        dark, more = shadow(shape, box, rng)
        light, info = light * dark, info | more
    page = R.shade(page, light)
    if tilt:
        img = _on_table(Image.fromarray(np.clip(page, 0, 255).astype(np.uint8)), frame, quad, rng)
        page = np.asarray(img, np.float32)
        info["tilt_quad"] = [[round(float(v), 1) for v in p] for p in quad]
    out = R.camera(page, rng)
    return Image.fromarray(out), info


def _to_page(point: tuple[float, float], quad: list[tuple[float, float]],
             frame: tuple[int, int]) -> tuple[float, float]:
    fw, fh = frame
    a, b, c, d, e, f, g, h = perspective_coeffs([(0, 0), (fw, 0), (fw, fh), (0, fh)], quad)
    x, y = point
    z = g * x + h * y + 1
    return (a * x + b * y + c) / z, (d * x + e * y + f) / z


def _resize(alpha: np.ndarray, scale: float) -> np.ndarray:
    h, w = alpha.shape
    size = (max(2, round(w * scale)), max(2, round(h * scale)))
    return np.clip(np.asarray(Image.fromarray(alpha, "F").resize(size, Image.Resampling.BILINEAR)), 0, 1)


def _on_table(page: Image.Image, frame: tuple[int, int], quad: list[tuple[float, float]],
              rng: np.random.Generator) -> Image.Image:
    """Warp the lit page into the tilted frame over a wooden or grey table where the page ends."""
    tone = np.array([(96, 70, 50), (60, 58, 56), (140, 110, 80), (30, 32, 36)][int(rng.integers(4))],
                    np.float32)
    grain = 1 + 0.12 * R.smooth_field((frame[1], frame[0]), rng, 14)
    table = Image.fromarray(np.clip(tone * grain[..., None], 0, 255).astype(np.uint8))
    sheet = page.convert("RGBA")
    warped = warp(sheet, frame, quad, (0, 0, 0, 0))
    return Image.alpha_composite(table.convert("RGBA"), warped).convert("RGB")


def canvas(alpha: np.ndarray, rng: np.random.Generator, size: int = 280,
           transparent: bool = False) -> tuple[Image.Image, dict]:
    """A drawing-app export: black stroke on white (or on transparency, as canvas.toDataURL gives)."""
    xy = place((size, size), alpha.shape[::-1], rng, margin=4)
    a = np.zeros((size, size), np.float32)
    h, w = alpha.shape
    a[xy[1]:xy[1] + h, xy[0]:xy[0] + w] = alpha[:size - xy[1], :size - xy[0]]
    a8 = np.round(np.clip(a, 0, 1) * 255).astype(np.uint8)
    if transparent:
        rgba = np.zeros((size, size, 4), np.uint8)
        rgba[..., 3] = a8
        return Image.fromarray(rgba, "RGBA"), {"frame": [size, size], "background": "transparent",
                                               "ink_box": [*xy, w, h]}
    return Image.fromarray(255 - a8, "L").convert("RGB"), {"frame": [size, size], "background": "white",
                                                           "ink_box": [*xy, w, h]}


def scan(alpha: np.ndarray, rng: np.random.Generator, bilevel: bool = False) -> tuple[Image.Image, dict]:
    """A flatbed scan at ~300 dpi: grayscale, near-white, flat light, a little noise and dust."""
    frame = [(850, 600), (600, 850), (1000, 700), (700, 500)][int(rng.integers(4))]
    frame = (max(frame[0], alpha.shape[1] + 60), max(frame[1], alpha.shape[0] + 60))
    xy = place(frame, alpha.shape[::-1], rng, margin=20)
    page = R.paper((frame[1], frame[0]), rng, colour="white", texture=0.4)
    R.lay_ink(page, alpha, xy, R.INKS[str(rng.choice(["black", "blue"]))], rng.uniform(0.85, 1))
    gray = page.mean(2) * rng.uniform(1.0, 1.04)
    for _ in range(int(rng.integers(0, 6))):  # dust specks, 1-2 px
        y, x = rng.integers(0, frame[1] - 2), rng.integers(0, frame[0] - 2)
        gray[y:y + int(rng.integers(1, 3)), x:x + int(rng.integers(1, 3))] *= rng.uniform(0.3, 0.8)
    img = R.camera(np.repeat(gray[..., None], 3, 2), rng, blur=(0.3, 0.7), noise=(0.5, 2.0))
    out = Image.fromarray(img[..., 0], "L")
    if bilevel:
        out = out.point(lambda v: 255 if v > 160 else 0).convert("1")
    return out, {"frame": list(frame), "bilevel": bilevel, "ink_box": [*xy, *alpha.shape[::-1]]}
