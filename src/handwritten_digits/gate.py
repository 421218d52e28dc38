"""The "not a digit" gate: a small CNN that tells a preprocessed digit from anything else.

MNIST has no "none of these" class, so a digit classifier answers confidently for a letter or a shirt.
The gate is trained on digits against synthetic negatives made here -- letters and symbols in printed
fonts, Fashion-MNIST *training* images, scribbles, hatching, stars and noise -- and, so that it judges
shapes and not typefaces, on digits rendered in the same fonts the same way. Everything goes through
`preprocess.prepare` first: the gate sees exactly the 28x28 image the classifier would see.

A trained gate travels inside the model file (`gate.*` tensors next to the classifier's, `gate` in the
sidecar, with its threshold); `load_model` attaches it and the Recognizer abstains ("not_a_digit") when
the gate's probability of "not a digit" exceeds the threshold.

    python -m handwritten_digits.gate --model runs/best2-s2 --out runs/best2-s2-gated
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from safetensors.torch import load_file
from torch import nn

from handwritten_digits.augment import POLICIES
from handwritten_digits.data.datasets import load_split
from handwritten_digits.errors import DigitsError
from handwritten_digits.modelio import load_model, read_sidecar, save_model
from handwritten_digits.models import create_model
from handwritten_digits.models.ours import MNIST_MEAN, MNIST_STD
from handwritten_digits.preprocess import prepare

log = logging.getLogger(__name__)

GATE_MODEL, GATE_ARGS = "fast-cnn", {"num_classes": 2, "width": 16}
THRESHOLD = 0.95  # P(not a digit) above this abstains: chosen on the real-world tune split by
# benchmarks/gate_threshold.py (negatives caught minus digits lost, good digits abstained <= 1.5%)
# Printed fonts for letters and for the matching digits. The real-world benchmark draws its letters
# from handwriting fonts and three DejaVu faces; none of those are used here.
FONT_DIR = Path("/usr/share/fonts/truetype")
FONTS = ("dejavu/DejaVuSans-Oblique.ttf", "dejavu/DejaVuSansCondensed.ttf",
         "dejavu/DejaVuSerif-Italic.ttf", "dejavu/DejaVuSansMono.ttf", "dejavu/DejaVuSans-ExtraLight.ttf",
         "dejavu/DejaVuSerifCondensed-Bold.ttf", "liberation/LiberationSans-Regular.ttf",
         "liberation/LiberationSerif-Italic.ttf", "liberation/LiberationMono-Bold.ttf",
         "liberation/LiberationSansNarrow-Regular.ttf")
# Letters that no one would read as a digit (O, l, I, S, Z, B, g, q, ... are left out) and symbols.
NOT_DIGITS = "acefhkmnprtuvwxyACEFHKMNPRUVWXY#@%&?=$"
KINDS = {"letter": 0.45, "fashion": 0.25, "scribble": 0.15, "hatch": 0.05, "star": 0.05, "noise": 0.05}


@dataclass
class GateData:
    images: torch.Tensor  # (N, 28, 28) uint8, as preprocessing renders them
    labels: torch.Tensor  # (N,) int64: 0 digit, 1 not a digit


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
    share = np.array(list(kinds.values()), np.float64)
    picks = rng.choice(list(kinds), size=n, p=share / share.sum())
    out = []
    for kind in picks:
        if kind == "letter":
            img = _glyph(rng, fonts, NOT_DIGITS)
        elif kind == "fashion" and fashion is not None:
            tile = fashion[int(rng.integers(len(fashion)))]
            img = Image.fromarray(tile).resize((84, 84), Image.Resampling.BICUBIC)
        else:
            img = {"scribble": _scribble, "hatch": _hatch, "star": _star, "noise": _noise}[kind](rng)
        a = np.asarray(img)
        out.append(255 - a if rng.random() < 0.5 else a)  # dark ink on paper half of the time
    return out


def font_digits(n: int, seed: int = 1) -> list[np.ndarray]:
    """`n` digits drawn exactly as the letters are, so that the gate cannot go by the typeface."""
    rng = np.random.default_rng(seed)
    fonts = _fonts()
    out = []
    for _ in range(n):
        a = np.asarray(_glyph(rng, fonts, "0123456789"))
        out.append(255 - a if rng.random() < 0.5 else a)
    return out


def _prepared(raw: list[np.ndarray]) -> np.ndarray:
    kept = []
    for a in raw:
        p = prepare(a)
        if p.reason is None:
            kept.append(p.image)
    return np.stack(kept)


def build_data(n_negative: int = 30_000, n_font_digits: int = 6_000, seed: int = 0) -> GateData:
    """Digits (MNIST training split, plus printed-font digits) against negatives, all preprocessed."""
    t0 = time.perf_counter()
    mnist = load_split("mnist", "train").images.numpy()
    pos = np.concatenate([_prepared(list(mnist)), _prepared(font_digits(n_font_digits, seed + 1))])
    neg = _prepared(negatives(n_negative, seed))
    log.info("gate data: %d digits, %d negatives (%.0f s)", len(pos), len(neg), time.perf_counter() - t0)
    images = torch.from_numpy(np.concatenate([pos, neg]))
    labels = torch.cat([torch.zeros(len(pos), dtype=torch.long), torch.ones(len(neg), dtype=torch.long)])
    return GateData(images, labels)


def train_gate(data: GateData, epochs: int = 4, batch_size: int = 256, lr: float = 3e-3,
               seed: int = 0) -> nn.Module:
    """A fast-cnn with two outputs, trained with the robust augmentation on balanced classes."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = create_model(GATE_MODEL, **GATE_ARGS).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * math.ceil(len(data.labels) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    share = data.labels.float().mean()
    weight = torch.stack([0.5 / (1 - share), 0.5 / share])  # both classes count the same
    augment = POLICIES["robust"]
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(data.labels), generator=gen)
        total, correct = 0.0, 0
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            x = augment(data.images[idx].unsqueeze(1).float() / 255, gen)
            x = ((x - MNIST_MEAN) / MNIST_STD).contiguous(memory_format=torch.channels_last)
            y = data.labels[idx]
            logits = model(x)
            loss = F.cross_entropy(logits, y, weight=weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            correct += int((logits.argmax(1) == y).sum())
        log.info("gate epoch %d: loss %.4f acc %.4f", epoch + 1, total / len(order), correct / len(order))
    return model.eval()


def not_digit_probability(gate: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(N, 28, 28) uint8 -> (N,) probability that each is not a digit."""
    from handwritten_digits.evaluate import infer
    return infer(gate, images, MNIST_MEAN, MNIST_STD).softmax(1)[:, 1]


def attach(model_spec: str | Path | None, gate: nn.Module, out: Path, threshold: float = THRESHOLD,
           metrics: dict | None = None) -> Path:
    """Write a copy of the model at `model_spec` with `gate` inside (one safetensors, one sidecar)."""
    loaded = load_model(model_spec)
    if loaded.path is None:
        raise DigitsError("the model has no file to copy")
    if loaded.meta.get("model") == "ensemble":
        raise DigitsError(f"{loaded.path}: a gate cannot be attached to an ensemble; attach it to a "
                          "single model")
    meta = dict(read_sidecar(loaded.path))
    meta["gate"] = {"model": GATE_MODEL, "model_args": GATE_ARGS, "threshold": threshold,
                    "metrics": metrics or {}}
    state = {k: v for k, v in load_file(str(loaded.path)).items() if not k.startswith("gate.")}
    state |= {f"gate.{k}": v.contiguous() for k, v in gate.state_dict().items()}
    return save_model(out, state, meta)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="run folder or .safetensors (default: the package default)")
    ap.add_argument("--out", type=Path, required=True, help="the gated copy (.safetensors)")
    ap.add_argument("--negatives", type=int, default=30_000)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--threshold", type=float, default=THRESHOLD)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data = build_data(args.negatives, seed=args.seed)
    hold = torch.randperm(len(data.labels), generator=torch.Generator().manual_seed(args.seed))
    cut = len(hold) // 10  # a tenth held out to report the gate's own accuracy
    train = GateData(data.images[hold[cut:]], data.labels[hold[cut:]])
    gate = train_gate(train, args.epochs, seed=args.seed)
    p = not_digit_probability(gate, data.images[hold[:cut]])
    y = data.labels[hold[:cut]]
    metrics = {"held_out": cut, "at_threshold": args.threshold,
               "digits_flagged": float((p[y == 0] > args.threshold).float().mean()),
               "negatives_caught": float((p[y == 1] > args.threshold).float().mean())}
    log.info("held out: %s", metrics)
    print(attach(args.model, gate, args.out, args.threshold, metrics))


if __name__ == "__main__":
    main()
