"""Models of our own design: small BatchNorm CNNs sized for a 2-core CPU.

`fast-cnn` is built to pass 99% test accuracy in one epoch within seconds: few channels, 3x3
convolutions, early pooling. `best-cnn` spends its budget on width and depth at 28x28 and 14x14 for a
near-record single model when trained with augmentation. Both take inputs normalised with MNIST's
mean and std and return logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from handwritten_digits.models.registry import register_model

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def conv_bn(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SmallCNN(nn.Module):
    """conv-bn-relu stages separated by 2x2 max-pooling, then a global pool and a linear head."""

    def __init__(self, widths: tuple[tuple[int, ...], ...], num_classes: int = 10,
                 dropout: float = 0.0, head: str = "pool", kernel: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for i, stage in enumerate(widths):
            for cout in stage:
                layers.append(conv_bn(cin, cout, kernel))
                cin = cout
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        # "pool": global max+avg (translation tolerant); "flat": keep the 7x7 (or 3x3) layout.
        self.head = head
        side = 28 // 2 ** (len(widths) - 1)
        feat = 2 * cin if head == "pool" else cin * side * side
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(feat, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N,1,28,28) -> (N,num_classes)
        return self.forward_with_features(x)[0]

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and the last stage's features, max- and mean-pooled over positions (N, 2 * channels).
        With every layer in eval mode, under `torch.inference_mode` (how answers are served), the same
        operations run without nn.Module's per-call machinery, bit for bit: a fortieth of the time of an
        answer to one photo. Hooks on the layers (forward and pre-forward) are not called there."""
        fast = torch.is_inference_mode_enabled() and not any(m.training for m in self.modules())
        f = self._eval_features(x) if fast else self.features(x)
        pooled = torch.cat([f.amax((2, 3)), f.mean((2, 3))], 1)
        flat = pooled if self.head == "pool" else f.flatten(1)
        if fast:
            linear = self.classifier[-1]
            return F.linear(flat, linear.weight, linear.bias), pooled
        return self.classifier(flat), pooled

    def _eval_features(self, x: torch.Tensor) -> torch.Tensor:
        """`self.features(x)` in eval mode, through the functional operations."""
        for layer in self.features:
            if isinstance(layer, nn.MaxPool2d):
                x = F.max_pool2d(x, layer.kernel_size, layer.stride)
                continue
            conv, bn, _ = layer
            x = F.conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)
            x = F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
            x = F.relu(x)
        return x


@register_model("fast-cnn", "small BN CNN for 99% in one CPU epoch", MNIST_MEAN, MNIST_STD)
def fast_cnn(num_classes: int = 10, width: int = 24) -> nn.Module:
    w = width
    return SmallCNN(((w,), (2 * w, 2 * w), (4 * w,)), num_classes, head="flat")


@register_model("best-cnn", "wider BN CNN for near-record accuracy with augmentation",
                MNIST_MEAN, MNIST_STD)
def best_cnn(num_classes: int = 10, width: int = 32, dropout: float = 0.2,
             kernel: int = 3) -> nn.Module:
    """`kernel` (odd) sets every convolution's size: 5 or 7 give ensemble members that err differently."""
    if isinstance(kernel, bool) or not isinstance(kernel, int) or kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"kernel must be odd and positive (got {kernel})")
    w = width
    return SmallCNN(((w, w), (2 * w, 2 * w), (4 * w, 4 * w)), num_classes, dropout, head="flat",
                    kernel=kernel)
