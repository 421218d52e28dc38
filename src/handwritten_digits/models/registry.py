"""Model registry: every architecture is registered by name and built with `create_model`.

A registered builder takes keyword arguments (all JSON-serialisable, so they can be stored in the
model's sidecar and the model rebuilt from it) and returns a plain `nn.Module` mapping
(N, 1, 28, 28) float input to (N, num_classes) logits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from handwritten_digits.errors import ModelError

Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    builder: Builder
    description: str
    # Input normalisation the model was designed with: x = (pixel / 255 - mean) / std.
    mean: float = 0.0
    std: float = 1.0


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(name: str, description: str = "", mean: float = 0.0, std: float = 1.0
                   ) -> Callable[[Builder], Builder]:
    def deco(fn: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = ModelEntry(name, fn, description or (fn.__doc__ or "").strip(), mean, std)
        return fn
    return deco


def get_entry(name: str) -> ModelEntry:
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; available: {', '.join(list_models())}") from None


def create_model(name: str, /, **kwargs: object) -> nn.Module:
    """Build a registered model by name; unknown names or arguments raise `ModelError`."""
    entry = get_entry(name)
    try:
        return entry.builder(**kwargs)
    except (TypeError, ValueError) as e:
        raise ModelError(f"model {name!r}: bad arguments {kwargs} ({e})") from None


def list_models() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _load_builtin() -> None:
    # Importing the modules runs their @register_model decorators.
    from handwritten_digits.models import ours, record, seed  # noqa: F401
