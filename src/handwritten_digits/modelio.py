"""Save and load models as safetensors weights plus a JSON sidecar.

The sidecar carries everything a consumer needs to use the weights without guessing: the registry
name and arguments to rebuild the module, the input convention (size, polarity, normalisation), the
class names, the calibration temperature, metrics, library versions and the data hashes. Nothing is
ever unpickled.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from handwritten_digits.errors import DigitsError, ModelError
from handwritten_digits.fileio import atomic_path, write_json
from handwritten_digits.models import create_model, get_entry

SIDECAR_FORMAT = "handwritten-digits/model"
SIDECAR_VERSION = 1
GATE_PREFIX = "gate."  # tensors of the "not a digit" gate inside a model file
OOD_PREFIX = "ood."  # the out-of-distribution score's statistics (handwritten_digits.ood)
PACKAGE_DEFAULT = Path(__file__).parent / "assets" / "default.safetensors"


@dataclass
class LoadedModel:
    """A model ready for inference together with its sidecar."""

    model: nn.Module
    meta: dict[str, Any]
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        return float(self.meta["input"]["mean"])

    @property
    def std(self) -> float:
        return float(self.meta["input"]["std"])

    @property
    def class_names(self) -> list[str]:
        return list(self.meta["class_names"])

    @property
    def temperature(self) -> float:
        return float(self.meta.get("temperature", 1.0))


def versions() -> dict[str, str]:
    from handwritten_digits import __version__
    return {"handwritten_digits": __version__, "torch": torch.__version__,
            "numpy": np.__version__, "python": sys.version.split()[0],
            "platform": platform.platform()}


def make_sidecar(model_name: str, model_args: dict, class_names: list[str], **extra: Any) -> dict:
    entry = get_entry(model_name)
    meta = {
        "format": SIDECAR_FORMAT, "format_version": SIDECAR_VERSION,
        "model": model_name, "model_args": model_args,
        "input": {"size": [28, 28], "channels": 1, "polarity": "white-on-black",
                  "scale": "pixel/255", "mean": entry.mean, "std": entry.std},
        "class_names": list(class_names),
        "temperature": 1.0,
        "versions": versions(),
    }
    meta.update(extra)
    return meta


def save_model(path: str | os.PathLike, model: nn.Module | dict[str, torch.Tensor], meta: dict) -> Path:
    """Write `path` (.safetensors) and its sidecar (.json) atomically; return the weights path."""
    path = Path(path).with_suffix(".safetensors")
    tensors = model.state_dict() if isinstance(model, nn.Module) else model
    state = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"format": SIDECAR_FORMAT})
    write_json(path.with_suffix(".json"), meta)
    return path


def save_with(weights: Path, out: str | os.PathLike, key: str, entry: dict,
              tensors: dict[str, torch.Tensor]) -> Path:
    """Write a copy of the model file `weights` whose `key.*` tensors and sidecar entry `key` are
    replaced by `tensors` and `entry` (how a gate or an OOD score is attached to a model)."""
    prefix = f"{key}."
    meta = {**read_sidecar(weights), key: entry}
    state = {k: v for k, v in read_weights(weights).items() if not k.startswith(prefix)}
    state |= {prefix + k: v.contiguous() for k, v in tensors.items()}
    return save_model(out, state, meta)


def _resolve_file(spec: str | os.PathLike) -> Path:
    p = Path(spec).expanduser()
    if p.is_dir():
        p = p / "model.safetensors"
    elif p.suffix == ".json" or p.suffix != ".safetensors" and not p.exists():
        p = p.with_suffix(".safetensors")
    elif p.suffix != ".safetensors":  # an image passed where the model goes, say
        raise ModelError(f"{spec}: not a model file (expected a run folder or a .safetensors file)")
    if not p.is_file():
        raise ModelError(f"{spec}: no model found (expected a run folder or a .safetensors file)")
    return p


def read_sidecar(weights: Path) -> dict:
    side = weights.with_suffix(".json")
    try:
        meta = json.loads(side.read_text())
    except FileNotFoundError:
        raise ModelError(f"{side}: sidecar missing (needed to rebuild the model)") from None
    except (OSError, json.JSONDecodeError) as e:
        raise ModelError(f"{side}: unreadable sidecar ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != SIDECAR_FORMAT or "model" not in meta:
        raise ModelError(f"{side}: not a handwritten-digits model sidecar")
    _check_sidecar(side, meta)
    return meta


def _check_sidecar(side: Path, meta: dict) -> None:
    """The entries an answer is computed from, present and sane: a temperature or scale that is 0,
    negative, tiny or NaN would turn answers upside down or make every confidence NaN."""
    def number(what: str, value: Any, low: float, high: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise ModelError(f"{side}: {what} must be a number from {low:g} to {high:g}, not {value!r}")

    def model_input(what: str, entry: Any) -> None:
        if not isinstance(entry, dict) or not isinstance(entry.get("input"), dict):
            raise ModelError(f"{side}: {what}'input' (the normalisation) is missing")
        number(f"{what}input mean", entry["input"].get("mean"), -1e6, 1e6)
        number(f"{what}input std", entry["input"].get("std"), 1e-6, 1e6)

    number("temperature", meta.get("temperature", 1.0), 0.01, 100.0)
    if not isinstance(meta.get("class_names"), list) or not meta["class_names"]:
        raise ModelError(f"{side}: 'class_names' is missing")
    if meta["model"] != "ensemble":
        model_input("", meta)
        return
    members = meta.get("members")
    if not isinstance(members, list) or not members:
        raise ModelError(f"{side}: an ensemble without 'members'")
    for i, member in enumerate(members):
        model_input(f"member {i}'s ", member)


def load_model(spec: str | os.PathLike | None = None, device: str | torch.device = "cpu"
               ) -> LoadedModel:
    """Load a model from a run folder, a .safetensors/.json path, or the default when None."""
    weights = default_model_path() if spec is None else _resolve_file(spec)
    meta = read_sidecar(weights)
    if meta["model"] == "ensemble":
        from handwritten_digits.models.ensemble import load_ensemble
        return load_ensemble(weights, meta, device)
    state = read_weights(weights)
    model = build(weights, "", meta["model"], meta.get("model_args", {}),
                  {k: v for k, v in state.items() if not k.startswith((GATE_PREFIX, OOD_PREFIX))})
    gate = load_gate(weights, meta, state, device)
    ood = _ood(weights, meta["ood"], state, model, len(meta["class_names"])) if "ood" in meta else None
    # channels_last lets oneDNN run the convolutions without reordering (about 2x faster on CPU).
    model.to(device).to(memory_format=torch.channels_last).eval()
    extra = {}
    if gate is not None:  # the "not a digit" gate (handwritten_digits.gate), shipped in the same file
        extra["gate"] = gate
    if ood is not None:  # the out-of-distribution score's statistics (handwritten_digits.ood)
        extra["ood"] = ood
    return LoadedModel(model, meta, weights, extra)


def load_gate(weights: Path, meta: dict, state: dict[str, torch.Tensor], device: str | torch.device
              ) -> nn.Module | None:
    """The "not a digit" gate a model file carries (`gate.*` tensors, `gate` in the sidecar), or None."""
    if "gate" not in meta:
        return None
    spec = meta["gate"]
    ok = isinstance(spec, dict) and isinstance(spec.get("model"), str) \
        and isinstance(spec.get("threshold"), int | float) and 0.0 <= spec["threshold"] <= 1.0
    if not ok:
        raise ModelError(f"{weights.with_suffix('.json')}: malformed 'gate' entry (needs a model name, "
                         "model_args and a threshold between 0 and 1)")
    gate = build(weights, "the gate's ", spec["model"], spec.get("model_args", {}),
                 {k[len(GATE_PREFIX):]: v for k, v in state.items() if k.startswith(GATE_PREFIX)})
    return gate.to(device).to(memory_format=torch.channels_last).eval()


def _ood(weights: Path, spec: Any, state: dict[str, torch.Tensor], model: nn.Module,
         classes: int) -> dict[str, torch.Tensor]:
    """The OOD statistics a sidecar announces, checked against the model they belong to: a malformed
    entry, or tensors of the wrong shape or not finite, are a ModelError (never a crash later, nor a
    score that silently never refuses)."""
    stats = {k[len(OOD_PREFIX):]: v.float() for k, v in state.items() if k.startswith(OOD_PREFIX)}
    means, precision = stats.get("means"), stats.get("precision")
    width = None
    if hasattr(model, "forward_with_features"):
        with torch.inference_mode():
            width = model.eval().forward_with_features(torch.zeros(1, 1, 28, 28))[1].shape[1]
    threshold = spec.get("threshold") if isinstance(spec, dict) else None
    ok = isinstance(threshold, int | float) and not isinstance(threshold, bool) and threshold > 0 \
        and means is not None and precision is not None and means.shape == (classes, width) \
        and precision.shape == (width, width) and bool(means.isfinite().all()) \
        and bool(precision.isfinite().all())
    if not ok:
        raise ModelError(f"{weights.with_suffix('.json')}: malformed 'ood' entry (needs a positive "
                         f"threshold, and finite ood.means ({classes} x the model's feature width) and "
                         "a matching square ood.precision in the weights)")
    return {"means": means, "precision": precision}


def read_weights(weights: Path) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file; an unreadable or damaged one is a ModelError."""
    try:
        return load_file(str(weights))
    except (SafetensorError, OSError) as e:
        raise ModelError(f"{weights}: weights do not load ({str(e).splitlines()[0]})") from None


def build(weights: Path, whose: str, name: Any, args: Any, state: dict[str, torch.Tensor]) -> nn.Module:
    """The registered model `name(**args)` holding `state`. It is built on the meta device, which
    allocates nothing, so that arguments that do not fit the weights (a hand-edited width, a negative
    one) are a ModelError before any memory is taken; then `state`'s tensors become its parameters and
    buffers (nothing is initialised only to be overwritten). `whose` names the part in messages ("the
    gate's ")."""
    side = weights.with_suffix(".json")
    if not isinstance(name, str) or not isinstance(args, dict):
        raise ModelError(f"{side}: {whose}model name must be a string and its model_args an object")
    try:
        with torch.device("meta"):
            model = create_model(name, **args)
    except (RuntimeError, DigitsError) as e:  # DigitsError: an unknown name, arguments it does not take
        raise ModelError(f"{side}: {whose}model {name!r} cannot be built from {args} "
                         f"({str(e).splitlines()[0]})") from None
    expected = model.state_dict()  # meta tensors: shapes and dtypes, no data
    shapes = {k: tuple(v.shape) for k, v in expected.items()}
    stored = {k: tuple(v.shape) for k, v in state.items()}
    if shapes != stored:
        key = next(k for k in [*shapes, *stored] if shapes.get(k) != stored.get(k))  # the first in the model
        found = f"{stored[key]} in the file" if key in stored else "missing from the file"
        wanted = f"{shapes[key]} in {name!r} {args}" if key in shapes else f"not in {name!r} {args}"
        raise ModelError(f"{weights}: {whose}weights do not load ({key}: {found}, {wanted})")
    # the file's tensors become the parameters, in the model's dtype (a float16 file answers in float32)
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, assign=True)
    left = [k for k, v in [*model.named_parameters(), *model.named_buffers()] if v.is_meta]
    if left:  # a tensor the state dict does not hold (a non-persistent buffer): nothing to assign
        raise ModelError(f"{weights}: {whose}model {name!r} keeps tensors its file cannot fill ({left[0]})")
    return model


def latest_run_pointer() -> Path:
    from handwritten_digits.data.sources import cache_dir
    return cache_dir() / "latest_run"


def default_model_path() -> Path:
    """The shipped default model, else the most recent finished training run."""
    if PACKAGE_DEFAULT.is_file():
        return PACKAGE_DEFAULT
    pointer = latest_run_pointer()
    if pointer.is_file():
        run = Path(pointer.read_text().strip())
        if (run / "model.safetensors").is_file():
            return run / "model.safetensors"
    raise ModelError("no model given and no default model yet: train one with `make run` "
                     "or `digits train`, or pass --model")
