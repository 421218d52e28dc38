"""A Keras-style `summary()`: output shape and parameter count per leaf layer."""

from __future__ import annotations

import torch
from torch import nn


def summary(model: nn.Module, input_shape: tuple[int, ...] = (1, 1, 28, 28)
            ) -> tuple[list[tuple[str, tuple[int, ...], int]], int]:
    """Rows of (name (Type), output shape without batch, parameters) and the total."""
    rows: list[tuple[str, tuple[int, ...], int]] = []
    hooks = []
    for name, module in model.named_modules():
        if list(module.children()):
            continue

        def hook(mod: nn.Module, _inp: object, output: torch.Tensor, name: str = name) -> None:
            params = sum(p.numel() for p in mod.parameters(recurse=False))
            rows.append((f"{name} ({type(mod).__name__})", tuple(output.shape[1:]), params))
        hooks.append(module.register_forward_hook(hook))
    model.eval()
    with torch.no_grad():
        model(torch.zeros(input_shape))
    for h in hooks:
        h.remove()
    return rows, sum(p.numel() for p in model.parameters())
