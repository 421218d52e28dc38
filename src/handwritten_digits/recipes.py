"""Named, versioned training recipes: a recipe is a complete TrainConfig minus the seed.

`digits train --recipe NAME --seed S` reproduces a run from the name and seed alone; every field can
still be overridden by a flag. Bump a recipe's version whenever its fields change.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from handwritten_digits.errors import DigitsError
from handwritten_digits.train import TrainConfig

RECIPES: dict[str, tuple[int, dict[str, Any]]] = {
    # The seed notebook: Keras CNN, Adam 1e-3, batch 32, 5 epochs, no augmentation.
    "seed": (1, {"model": "seed-cnn", "epochs": 5, "batch_size": 32, "lr": 1e-3,
                 "optimizer": "adam", "schedule": "constant"}),
    # 99% in one epoch: a 64k-parameter BN CNN, SGD+Nesterov with a one-cycle schedule, bf16 autocast.
    "fast": (1, {"model": "fast-cnn", "model_args": {"width": 16}, "epochs": 1, "batch_size": 128,
                 "lr": 0.1, "optimizer": "sgd", "weight_decay": 5e-4, "schedule": "onecycle",
                 "warmup": 0.2, "label_smoothing": 0.1, "precision": "bf16"}),
    # 99.5% in about a minute: the fast model, six epochs, light augmentation.
    "medium": (1, {"model": "fast-cnn", "model_args": {"width": 16}, "epochs": 6, "batch_size": 128,
                   "lr": 0.1, "optimizer": "sgd", "weight_decay": 5e-4, "schedule": "onecycle",
                   "warmup": 0.2, "label_smoothing": 0.1, "augment": "light", "precision": "bf16"}),
    # Near-record single model: a 350k-parameter BN CNN with real-world augmentation.
    "best": (1, {"model": "best-cnn", "model_args": {"width": 32, "dropout": 0.2}, "epochs": 26,
                 "batch_size": 128, "lr": 0.1, "optimizer": "sgd", "weight_decay": 5e-4,
                 "schedule": "onecycle", "warmup": 0.15, "label_smoothing": 0.1,
                 "augment": "robust", "precision": "bf16"}),
    "seed-mlp": (1, {"model": "seed-mlp", "epochs": 20, "batch_size": 32, "lr": 1e-3,
                     "optimizer": "adam", "schedule": "constant"}),
}


def recipe_config(name: str, **overrides: Any) -> TrainConfig:
    """The recipe's config with `overrides` (None values ignored) applied on top."""
    try:
        version, fields = RECIPES[name]
    except KeyError:
        raise DigitsError(f"unknown recipe {name!r}; choose one of: {', '.join(RECIPES)}") from None
    config = TrainConfig(**fields, recipe=name, recipe_version=version)
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})
