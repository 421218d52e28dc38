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


@pytest.mark.mnist
def test_shipped_ood_score_passes_mnist_test_digits_and_refuses_noise() -> None:
    import numpy as np

    from handwritten_digits import Recognizer
    from handwritten_digits.data.datasets import load_split

    rec = Recognizer.load()
    meta = json.loads(PACKAGE_DEFAULT.with_suffix(".json").read_text())
    assert rec.ood_threshold == meta["ood"]["threshold"]
    test = load_split("mnist", "test")
    probs, _, far = rec.judge(test.images[:2000].numpy())
    assert float((far > rec.ood_threshold).mean()) < 0.01  # digits the classifier knows stay near
    assert float((probs.argmax(1) == test.labels[:2000].numpy()).mean()) >= 0.995  # one pass, same logits
    noise = np.random.default_rng(0).integers(0, 256, (200, 28, 28), dtype=np.uint8)
    assert float((rec.judge(noise)[2] > rec.ood_threshold).mean()) > 0.9
