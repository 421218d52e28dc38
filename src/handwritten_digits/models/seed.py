"""The seed notebook's two models, layer for layer.

`seed-cnn` is the Keras CNN: Conv2D(32, 5x5, same)+ReLU, MaxPool 2, Conv2D(64, 5x5, same)+ReLU,
MaxPool 2, Flatten, Dense(1024)+ReLU, Dense(10): 3,274,634 parameters. `seed-mlp` is the repository's
784-512-512-10 MLP: 669,706 parameters. Both use Keras's default initialisation (Glorot-uniform
weights, zero biases) so they train like the seed; both take raw pixels / 255 (mean 0, std 1).
"""

from __future__ import annotations

import torch
from torch import nn

from handwritten_digits.models.registry import register_model


def keras_init_(model: nn.Module) -> nn.Module:
    """Keras defaults: Glorot-uniform kernels, zero biases."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


class SeedCNN(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),   # (N,32,14,14)
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # (N,64,7,7)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 7 * 7, 1024), nn.ReLU(inplace=True),
            nn.Linear(1024, num_classes),
        )
        keras_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N,1,28,28) -> (N,num_classes)
        features = self.features(x)
        # Keras flattens channels-last (H, W, C); the order only matters for porting weights,
        # so we keep PyTorch's (C, H, W) order.
        return self.classifier(features)


class SeedMLP(nn.Module):
    def __init__(self, num_classes: int = 10, hidden: int = 512) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, num_classes),
        )
        keras_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N,1,28,28) -> (N,num_classes)
        return self.net(x)


@register_model("seed-cnn", "the seed notebook's Keras CNN (Conv32-Conv64-Dense1024)")
def seed_cnn(num_classes: int = 10) -> nn.Module:
    return SeedCNN(num_classes)


@register_model("seed-mlp", "the seed repository's MLP 784-512-512-10")
def seed_mlp(num_classes: int = 10) -> nn.Module:
    return SeedMLP(num_classes)
