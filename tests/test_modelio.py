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
])
def test_arguments_that_do_not_fit_the_weights(tiny_run: Path, tmp_path: Path, args: object,
                                              message: str) -> None:
    """Checked on the meta device first: 10**9 classes would ask for 2 TB before failing."""
    path = edited(tiny_run, tmp_path, lambda m: m.update(model_args=args))
    with pytest.raises(ModelError, match=message):
        load_model(path)


@pytest.mark.parametrize(("key", "value"), [("temperature", -1), ("temperature", 0), ("temperature", "2"),
                                            ("temperature", True), ("temperature", float("nan")),
                                            ("std", 0), ("std", float("inf"))])
def test_a_temperature_or_scale_that_is_not_positive(tiny_run: Path, tmp_path: Path, key: str,
                                                     value: object) -> None:
    def edit(meta: dict) -> None:
        if key == "std":
            meta["input"]["std"] = value
        else:
            meta[key] = value
    with pytest.raises(ModelError, match="must be a positive number"):
        load_model(edited(tiny_run, tmp_path, edit))


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
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelError, match="weights do not load"):
        load_model(path)
