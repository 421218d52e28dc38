"""Model files that are damaged or hand-edited are a ModelError (a one-line error, exit status 2), never
a crash, an allocation of gigabytes, or answers turned upside down."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from handwritten_digits.errors import ModelError
from handwritten_digits.modelio import load_model
from handwritten_digits.models.ensemble import build_ensemble


def edited(run: Path, tmp_path: Path, edit) -> Path:  # noqa: ANN001
    """A copy of the run's model whose sidecar `edit` changed."""
    weights = tmp_path / "m.safetensors"
    shutil.copy(run / "model.safetensors", weights)
    meta = json.loads((run / "model.json").read_text())
    edit(meta)
    weights.with_suffix(".json").write_text(json.dumps(meta))
    return weights


@pytest.mark.parametrize(("args", "message"), [
    ({"num_classes": 10**9}, r"weights do not load \(.*: \(10, 512\) in the file, \(1000000000, 512\) in"),
    ({"num_classes": -1}, "model 'seed-mlp' cannot be built from"),
    ({"hidden": 3}, "model 'seed-mlp' cannot be built from"),
    ([1, 2], "model_args an object"),
    ({"name": 1}, "model 'seed-mlp' cannot be built from"),  # was a TypeError: name given twice
])
def test_arguments_that_do_not_fit_the_weights(tiny_run: Path, tmp_path: Path, args: object,
                                              message: str) -> None:
    """Checked on the meta device first: 10**9 classes would ask for 2 TB before failing."""
    path = edited(tiny_run, tmp_path, lambda m: m.update(model_args=args))
    with pytest.raises(ModelError, match=message):
        load_model(path)


@pytest.mark.parametrize(("key", "value"), [("temperature", -1), ("temperature", 0), ("temperature", "2"),
                                            ("temperature", True), ("temperature", float("nan")),
                                            ("temperature", 1e-300), ("std", 0), ("std", float("inf")),
                                            ("mean", float("nan")), ("mean", "abc")])
def test_a_temperature_or_normalisation_out_of_range(tiny_run: Path, tmp_path: Path, key: str,
                                                     value: object) -> None:
    """-1 turned answers upside down; 1e-300 or a NaN mean made every confidence NaN."""
    def edit(meta: dict) -> None:
        if key in ("std", "mean"):
            meta["input"][key] = value
        else:
            meta[key] = value
    with pytest.raises(ModelError, match=f"{key} must be a number from"):
        load_model(edited(tiny_run, tmp_path, edit))


@pytest.mark.parametrize("key", ["class_names", "input"])
def test_a_missing_entry(tiny_run: Path, tmp_path: Path, key: str) -> None:
    with pytest.raises(ModelError, match=f"'{key}'"):
        load_model(edited(tiny_run, tmp_path, lambda m: m.pop(key)))


def test_a_float16_file_answers_as_its_float32_original(tiny_run: Path, tmp_path: Path) -> None:
    """The file's tensors become the model's parameters, in the model's own dtype."""
    import torch
    from safetensors.torch import load_file, save_file
    path = edited(tiny_run, tmp_path, lambda m: None)
    save_file({k: v.half() for k, v in load_file(str(path)).items()}, str(path))
    x = torch.rand(4, 1, 28, 28)
    with torch.inference_mode():
        half, full = load_model(path).model(x), load_model(tiny_run).model(x)
    assert half.dtype == torch.float32 and torch.allclose(half, full, atol=0.05)


def test_a_truncated_weights_file(tiny_run: Path, tmp_path: Path) -> None:
    path = edited(tiny_run, tmp_path, lambda m: None)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelError, match="weights do not load"):
        load_model(path)


def test_an_ensemble_member_that_does_not_fit(tiny_run: Path, tmp_path: Path) -> None:
    path = build_ensemble([tiny_run, tiny_run], tmp_path / "ens.safetensors")
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["members"][1]["model_args"] = {"num_classes": 7}
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"member 1's weights do not load"):
        load_model(path)
    meta["members"][1]["model_args"] = {}
    meta["members"][0]["input"]["std"] = 0
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"member 0's input std must be a number from"):
        load_model(path)
    meta["members"][0]["input"]["std"] = 1
    path.with_suffix(".json").write_text(json.dumps(meta))
    assert load_model(path).model is not None
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelError, match="weights do not load"):
        load_model(path)
