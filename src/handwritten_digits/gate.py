"""The "not a digit" gate: a small CNN that tells a preprocessed digit from anything else.

MNIST has no "none of these" class, so a digit classifier answers confidently for a letter or a shirt.
The gate is trained on MNIST training digits against the synthetic negatives of
`handwritten_digits.synthetic` (letters, pen strokes, touching digit pairs, clothing, scribbles), and on
digits drawn the same way as those letters. Everything goes through `preprocess.prepare` first: the
gate sees exactly the 28x28 image the classifier would see.

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
from torch import nn

from handwritten_digits.augment import POLICIES
from handwritten_digits.data.datasets import load_split
from handwritten_digits.errors import DigitsError
from handwritten_digits.modelio import load_model, save_with
from handwritten_digits.models import create_model
from handwritten_digits.models.ours import MNIST_MEAN, MNIST_STD
from handwritten_digits.preprocess import prepare
from handwritten_digits.synthetic import font_digits, negatives

log = logging.getLogger(__name__)

GATE_MODEL, GATE_ARGS = "fast-cnn", {"num_classes": 2, "width": 16}
THRESHOLD = 0.9  # P(not a digit) above this abstains: chosen on the real-world tune split by
# benchmarks/gate_threshold.py (negatives caught minus digits lost, good digits abstained <= 1.5%;
# the digits include the other collection's tune half)


@dataclass
class GateData:
    images: torch.Tensor  # (N, 28, 28) uint8, as preprocessing renders them
    labels: torch.Tensor  # (N,) int64: 0 digit, 1 not a digit


def _prepared(raw: list[np.ndarray]) -> np.ndarray:
    kept = []
    for a in raw:
        p = prepare(a)
        if p.reason is None:
            kept.append(p.image)
    return np.stack(kept)


def build_data(n_negative: int = 30_000, n_font_digits: int = 10_000, seed: int = 0) -> GateData:
    """Digits (MNIST training split, plus printed-font and pen-stroke digits) against negatives, all
    preprocessed."""
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
    entry = {"model": GATE_MODEL, "model_args": GATE_ARGS, "threshold": threshold, "metrics": metrics or {}}
    return save_with(loaded.path, out, "gate", entry, gate.state_dict())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="run folder or .safetensors (default: the package default)")
    ap.add_argument("--out", type=Path, required=True, help="the gated copy (.safetensors)")
    ap.add_argument("--negatives", type=int, default=45_000)
    ap.add_argument("--epochs", type=int, default=6)  # the shipped gate: 45,000 negatives, 6 epochs
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
