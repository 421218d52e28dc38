"""The record ensemble's member design: An et al. 2020, "An Ensemble of Simple CNN Models for MNIST".

`simple-cnn` is a stack of unpadded k x k convolutions, each with BatchNorm and ReLU, no pooling, then
one bias-free linear layer and a BatchNorm over the ten logits. `kernel` picks the paper's three
members: 3 (M3: ten layers, 32 to 176 channels), 5 (M5: five layers, 32 to 160) and 7 (M7: four layers,
48 to 192). Their errors differ, which is what an ensemble needs. Inputs are pixels / 255 scaled to
[-1, 1] (mean 0.5, std 0.5).
"""

from __future__ import annotations

import torch
from torch import nn

from handwritten_digits.models.registry import register_model

WIDTHS: dict[int, tuple[int, ...]] = {
    3: tuple(range(32, 177, 16)),  # 28 -> 8 px after ten layers
    5: tuple(range(32, 161, 32)),  # 28 -> 8 px after five
    7: tuple(range(48, 193, 48)),  # 28 -> 4 px after four
}


class SimpleCNN(nn.Module):
    """Unpadded conv-BN-ReLU layers of `WIDTHS[kernel]` channels, flattened into BN-normalised logits."""

    def __init__(self, kernel: int, num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for cout in WIDTHS[kernel]:
            layers += [nn.Conv2d(cin, cout, kernel, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
        self.features = nn.Sequential(*layers)
        side = 28 - len(WIDTHS[kernel]) * (kernel - 1)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(cin * side * side, num_classes, bias=False),
                                        nn.BatchNorm1d(num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 1, 28, 28) -> (N, num_classes)
        return self.classifier(self.features(x))


@register_model("simple-cnn", "the record ensemble's member: unpadded BN convolutions, no pooling",
                0.5, 0.5)
def simple_cnn(num_classes: int = 10, kernel: int = 3) -> nn.Module:
    """`kernel` 3, 5 or 7: the paper's M3, M5 or M7."""
    if kernel not in WIDTHS:
        raise ValueError(f"kernel must be one of {sorted(WIDTHS)} (got {kernel})")
    return SimpleCNN(kernel, num_classes)
