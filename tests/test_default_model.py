"""The shipped default model: a complete sidecar, and `digits evaluate` reproduces its card."""

from __future__ import annotations

import json

import pytest

from handwritten_digits.modelio import PACKAGE_DEFAULT, load_model


def test_shipped_model_is_small_and_described() -> None:
    assert PACKAGE_DEFAULT.is_file(), "the default model must ship inside the package"
    assert PACKAGE_DEFAULT.stat().st_size <= 5 * 1024 * 1024
    meta = json.loads(PACKAGE_DEFAULT.with_suffix(".json").read_text())
    assert meta["recipe"] and meta["seed"] is not None and meta["temperature"] > 0
    assert {"val_acc", "test_acc"} <= set(meta["metrics"])
    assert (PACKAGE_DEFAULT.parent / "MODEL_CARD.md").is_file()
    loaded = load_model()
    assert loaded.path == PACKAGE_DEFAULT and loaded.class_names == [str(i) for i in range(10)]


@pytest.mark.mnist
def test_evaluate_reproduces_the_card() -> None:
    from handwritten_digits.evaluate import evaluate_models
    meta = json.loads(PACKAGE_DEFAULT.with_suffix(".json").read_text())
    result = evaluate_models([None], split="test")
    assert result["accuracy"] == pytest.approx(meta["metrics"]["test_acc"], abs=1e-4)
    assert result["accuracy"] >= 0.996
