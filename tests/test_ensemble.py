"""Ensembles of trained models: one file, usable wherever a model is, carrying a member's gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from handwritten_digits import Recognizer
from handwritten_digits.errors import ModelError
from handwritten_digits.evaluate import infer
from handwritten_digits.gate import attach
from handwritten_digits.modelio import load_model
from handwritten_digits.models.ensemble import build_ensemble
from tests.conftest import synthetic_digits
from tests.test_gate import fixed_gate


def test_an_ensemble_averages_its_members_log_probabilities(tiny_run: Path, tmp_path: Path) -> None:
    shifted = tmp_path / "shifted.safetensors"  # a second member that differs from the first
    one = load_model(tiny_run)
    with torch.no_grad():
        next(one.model.parameters()).mul_(1.5)
    from handwritten_digits.modelio import save_model
    save_model(shifted, one.model, one.meta)
    path = build_ensemble([tiny_run, shifted], tmp_path / "ens")
    ens = load_model(path)
    assert ens.meta["model"] == "ensemble" and len(ens.meta["members"]) == 2 and "gate" not in ens.extra
    x = torch.from_numpy(synthetic_digits(16, seed=5)[0])
    members = [load_model(s) for s in (tiny_run, shifted)]
    expected = torch.stack([infer(m.model, x, m.mean, m.std).log_softmax(1) for m in members]).mean(0)
    got = infer(ens.model, x, ens.mean, ens.std)
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(*(infer(m.model, x, m.mean, m.std) for m in members))


def test_an_ensemble_carries_the_first_gated_members_gate(tiny_run: Path, tmp_path: Path) -> None:
    digit = synthetic_digits(1, seed=3)[0][0]
    first = fixed_gate(not_digit=True)
    noise = torch.Generator().manual_seed(0)
    with torch.no_grad():  # weights of its own everywhere, so that a partial copy shows
        for t in first.parameters():
            t.add_(torch.randn(t.shape, generator=noise) * 0.01)
    gated = attach(tiny_run, first, tmp_path / "gated", threshold=0.8)
    other = attach(tiny_run, fixed_gate(not_digit=False), tmp_path / "other", threshold=0.7)
    path = build_ensemble([tiny_run, gated, other], tmp_path / "ens")
    assert json.loads(path.with_suffix(".json").read_text())["gate"]["threshold"] == 0.8
    rec = Recognizer.load(path)
    gate = rec.loaded.extra["gate"]
    assert rec.gate_threshold == 0.8 and not gate.training
    assert all(torch.equal(a, b) for a, b in zip(gate.state_dict().values(), first.state_dict().values(),
                                                   strict=True))
    assert rec.predict(digit).reason == "not_a_digit"
    assert Recognizer.load(path, max_not_digit=1.0).predict(digit).reason != "not_a_digit"
    # a gate attached to the ensemble afterwards replaces it
    never = Recognizer.load(attach(path, fixed_gate(not_digit=False), tmp_path / "never"))
    assert never.predict(digit).reason != "not_a_digit"
    assert never.predict(digit).probabilities == rec.predict(digit).probabilities  # same members


def test_an_ensemble_needs_two_models(tiny_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="at least two"):
        build_ensemble([tiny_run], tmp_path / "ens")


def test_an_ensemble_whose_gate_tensors_are_missing_is_a_model_error(tiny_run: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file
    gated = attach(tiny_run, fixed_gate(not_digit=True), tmp_path / "gated")
    path = build_ensemble([gated, tiny_run], tmp_path / "ens")
    save_file({k: v for k, v in load_file(str(path)).items() if not k.startswith("gate.")}, str(path))
    with pytest.raises(ModelError, match="gate's weights do not load"):
        load_model(path)
