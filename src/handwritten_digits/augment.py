"""Batch augmentation as tensor ops (no torchvision), plus test-time-augmentation views.

Every op works on a whole batch (N, 1, 28, 28) of float images in [0, 1] (ink = 1) and draws from a
caller-provided `torch.Generator`, so an epoch's augmentation is reproducible from (seed, epoch).
The ops mirror what real-world input does to a digit after preprocessing: residual rotation, scale,
shear and offset (random affine), wobbly handwriting (elastic distortion), pens thicker or thinner than
MNIST's (stroke dilation / erosion) and soft focus (blur). `flag_ones` gives some 1s the flag and foot
of a European 1, which MNIST's American writers rarely drew.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from handwritten_digits.errors import DigitsError


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=gen) * (hi - lo) + lo


def affine_grid(n: int, gen: torch.Generator, rotate_deg: float, scale: float, shear_deg: float,
                translate_px: float, size: int = 28) -> torch.Tensor:
    """Sampling grids (N, H, W, 2) for a random rotation, scale, shear and translation each."""
    a = torch.deg2rad(_uniform(n, -rotate_deg, rotate_deg, gen))
    sh = torch.deg2rad(_uniform(n, -shear_deg, shear_deg, gen))
    s = torch.exp(_uniform(n, -math.log(1 + scale), math.log(1 + scale), gen))
    t = _uniform(2 * n, -translate_px, translate_px, gen).view(n, 2) * (2.0 / size)
    cos, sin, tan = torch.cos(a), torch.sin(a), torch.tan(sh)
    # Inverse map (output -> input coordinates): divide by scale, rotate and shear.
    theta = torch.stack([
        torch.stack([cos / s, (-sin + cos * tan) / s, t[:, 0]], 1),
        torch.stack([sin / s, (cos + sin * tan) / s, t[:, 1]], 1),
    ], 1)
    return F.affine_grid(theta, [n, 1, size, size], align_corners=False)


def elastic_offsets(n: int, gen: torch.Generator, alpha_px: float, size: int = 28,
                    coarse: int = 4) -> torch.Tensor:
    """Smooth random displacement fields (N, H, W, 2) of about `alpha_px` pixels."""
    field = torch.randn(n, 2, coarse, coarse, generator=gen) * (alpha_px * 2.0 / size)
    field = F.interpolate(field, size=(size, size), mode="bicubic", align_corners=False)
    return field.permute(0, 2, 3, 1)


def stroke_width(x: torch.Tensor, gen: torch.Generator, p: float) -> torch.Tensor:
    """Dilate (max-pool) or erode (min-pool) a random fraction `p` of the batch by one pixel."""
    n = x.shape[0]
    r = torch.rand(n, generator=gen)
    thick = F.max_pool2d(x, 3, 1, 1)
    thin = -F.max_pool2d(-x, 2, 1, 0)
    thin = F.pad(thin, (0, 1, 0, 1))
    pick_thick = (r < p / 2).view(n, 1, 1, 1)
    pick_thin = ((r >= p / 2) & (r < p)).view(n, 1, 1, 1)
    return torch.where(pick_thick, thick, torch.where(pick_thin, thin, x))


_BLUR = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]).div(16).view(1, 1, 3, 3)


def blur(x: torch.Tensor, gen: torch.Generator, p: float) -> torch.Tensor:
    """3x3 Gaussian blur on a random fraction `p` of the batch."""
    pick = (torch.rand(x.shape[0], generator=gen) < p).view(-1, 1, 1, 1)
    return torch.where(pick, F.conv2d(x, _BLUR.to(x.dtype), padding=1), x)


@dataclass(frozen=True)
class Policy:
    rotate_deg: float = 0.0
    scale: float = 0.0  # relative: 0.15 draws scales in [1/1.15, 1.15]
    shear_deg: float = 0.0
    translate_px: float = 0.0
    elastic_px: float = 0.0
    stroke_p: float = 0.0
    blur_p: float = 0.0

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """(N, 1, 28, 28) float in [0, 1] -> augmented batch of the same shape."""
        n = x.shape[0]
        grid = affine_grid(n, gen, self.rotate_deg, self.scale, self.shear_deg, self.translate_px)
        if self.elastic_px:
            grid = grid + elastic_offsets(n, gen, self.elastic_px)
        x = F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="zeros",
                          align_corners=False)
        if self.stroke_p:
            x = stroke_width(x, gen, self.stroke_p)
        if self.blur_p:
            x = blur(x, gen, self.blur_p)
        return x


POLICIES: dict[str, Policy] = {
    # Mild: what MNIST itself varies by; keeps clean-test accuracy highest per epoch.
    "light": Policy(rotate_deg=8, scale=0.08, shear_deg=5, translate_px=2.0),
    # Real-world: residual errors of photo preprocessing, pens and handwriting styles.
    "robust": Policy(rotate_deg=12, scale=0.15, shear_deg=10, translate_px=2.5, elastic_px=0.8,
                     stroke_p=0.3, blur_p=0.15),
    # The record ensemble's (An et al. 2020): rotation up to 20 degrees, shifts up to a fifth of the side.
    "record": Policy(rotate_deg=20, translate_px=5.6),
}


def _segments(yy: torch.Tensor, xx: torch.Tensor, p0: torch.Tensor, p1: torch.Tensor,
              width: torch.Tensor) -> torch.Tensor:
    """(N, H, W) anti-aliased coverage of one straight stroke per image, from p0 to p1 ((N, 2) as y, x),
    `width` (N,) px wide with round ends."""
    d = p1 - p0
    y0, x0, dy, dx = (v[:, None, None] for v in (p0[:, 0], p0[:, 1], d[:, 0], d[:, 1]))
    t = (((yy - y0) * dy + (xx - x0) * dx) / (d ** 2).sum(1).clamp_min(1e-6)[:, None, None]).clamp(0, 1)
    dist = ((yy - (y0 + t * dy)) ** 2 + (xx - (x0 + t * dx)) ** 2).sqrt()
    return (width[:, None, None] / 2 - dist + 0.5).clamp(0, 1)


FLAG_TURN = (30.0, 55.0)  # degrees between a 1's stroke and its flag
FLAG_FLATTEST = 60.0  # degrees from vertical: a flatter top stroke is a 7's bar
FLAG_LENGTH = (0.2, 0.45)  # of the 1's height
FOOT = (0.2, 0.3)  # half-length of a foot, of the 1's height


def flag_ones(x: torch.Tensor, labels: torch.Tensor, gen: torch.Generator, p: float, one: int = 1,
              foot_p: float = 0.3) -> torch.Tensor:
    """Give a random share `p` of the batch's 1s a flag, a stroke from the top down to the left as
    European writers draw one (MNIST's American 1s are mostly a single stroke), and a share `foot_p`
    of those a foot. A 1 leaning left keeps its shape: with a flag it would be a caret. The flag leaves
    the stroke by FLAG_TURN degrees, but by 20 at least where FLAG_FLATTEST cuts a leaning 1's turn.
    Draws the same random numbers whether or not the batch holds a 1, on the CPU generator `gen`."""
    n = x.shape[0]
    pick, turn, length, foot, half = (torch.rand(n, generator=gen).to(x.device) for _ in range(5))
    idx = ((pick < p) & (labels.to(x.device) == one)).nonzero().squeeze(1)
    if len(idx) == 0:
        return x
    img = x[idx, 0].float()
    side = torch.arange(img.shape[1], dtype=torch.float32, device=x.device)
    rows = (img > 0.5).any(2)
    top = torch.where(rows, side, torch.full_like(side, 1e9)).amin(1)
    bottom = torch.where(rows, side, torch.full_like(side, -1e9)).amax(1)
    height = (bottom - top).clamp_min(1)
    width = (img.sum((1, 2)) / height).clamp(1.0, 5.0)  # the stroke's, from its ink and height

    def x_at(row: torch.Tensor) -> torch.Tensor:  # the ink's mean x within 1.5 px of `row`
        band = ((side.view(1, -1, 1) - row.view(-1, 1, 1)).abs() <= 1.5).float() * img
        return (band * side).sum((1, 2)) / band.sum((1, 2)).clamp_min(1e-6)

    x_top, x_bottom = x_at(top), x_at(bottom)
    axis = torch.atan2(x_bottom - x_top, bottom - top)  # 0: upright; negative: leaning right, "/"
    off = torch.deg2rad(turn[idx] * (FLAG_TURN[1] - FLAG_TURN[0]) + FLAG_TURN[0])
    angle = (axis - off).clamp_min(-math.radians(FLAG_FLATTEST))
    ok = (bottom > top) & (x_top - x_bottom >= -1.0) & (axis - angle >= math.radians(20))
    yy, xx = torch.meshgrid(side, side, indexing="ij")
    yy, xx = yy.expand(len(idx), -1, -1), xx.expand(len(idx), -1, -1)
    reach = (FLAG_LENGTH[0] + length[idx] * (FLAG_LENGTH[1] - FLAG_LENGTH[0])) * height
    start = torch.stack([top + width / 2, x_top], 1)
    end = start + torch.stack([torch.cos(angle), torch.sin(angle)], 1) * reach[:, None]
    ink = _segments(yy, xx, start, end, width)
    span = (FOOT[0] + half[idx] * (FOOT[1] - FOOT[0])) * height
    base = bottom - width / 2 + 0.5
    feet = _segments(yy, xx, torch.stack([base, x_bottom - span], 1), torch.stack([base, x_bottom + span], 1),
                     width)
    ink = torch.maximum(ink, feet * (foot[idx] < foot_p).float()[:, None, None])
    out = x.clone()
    out[idx, 0] = torch.where(ok[:, None, None], torch.maximum(img, ink), img).to(x.dtype)
    return out


def get_policy(name: str) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    try:
        return POLICIES[name]
    except KeyError:
        raise DigitsError(f"unknown augmentation {name!r}; choose none or one of: "
                          f"{', '.join(POLICIES)}") from None


def tta_views(x: torch.Tensor) -> list[torch.Tensor]:
    """The input and four one-pixel shifts (MNIST's empty border makes the wrap-around harmless)."""
    return [x] + [torch.roll(x, s, d) for d in (2, 3) for s in (-1, 1)]
