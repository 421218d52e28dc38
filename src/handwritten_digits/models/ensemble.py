"""An ensemble of trained models usable wherever one model is.

Saved as one safetensors file (member i's weights under the prefix `members.{i}.`) and one sidecar
listing the members' own sidecars. The ensemble takes pixels/255 and normalises per member; its
"logits" are the mean of the members' log-probabilities, so softmax of them is the geometric-mean
prediction. The first member that carries a "not a digit" gate lends it to the ensemble (the gate
judges the preprocessed image, whatever classifier reads it); the out-of-distribution score describes
one classifier's features and stays with single models.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from handwritten_digits.errors import ModelError


class Ensemble(nn.Module):
    def __init__(self, members: list[nn.Module], norms: list[tuple[float, float]]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.norms = norms  # (mean, std) per member

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N,1,28,28) in [0,1] -> (N,C)
        outs = [m((x - mean) / std).float().log_softmax(1)
                for m, (mean, std) in zip(self.members, self.norms, strict=True)]
        return torch.stack(outs).mean(0)


def build_ensemble(specs: list[str | os.PathLike], out: str | os.PathLike) -> Path:
    """Combine trained models (run folders or .safetensors files) into one ensemble file."""
    from handwritten_digits.modelio import GATE_PREFIX, load_model, make_sidecar, save_model
    if len(specs) < 2:
        raise ModelError("an ensemble needs at least two models")
    loaded = [load_model(s) for s in specs]
    classes = loaded[0].class_names
    if any(m.class_names != classes for m in loaded):
        raise ModelError("ensemble members must share the same class names")
    ens = Ensemble([m.model for m in loaded], [(m.mean, m.std) for m in loaded])
    meta = make_sidecar(loaded[0].meta["model"], {}, classes, dataset=loaded[0].meta.get("dataset"))
    meta.update(model="ensemble", model_args={},
                members=[{k: v for k, v in m.meta.items() if k != "versions"} for m in loaded])
    meta["input"].update(mean=0.0, std=1.0)
    state = ens.state_dict()
    gated = next((m for m in loaded if "gate" in m.extra), None)
    if gated is not None:
        meta["gate"] = gated.meta["gate"]
        state |= {GATE_PREFIX + k: v for k, v in gated.extra["gate"].state_dict().items()}
    return save_model(out, state, meta)


def load_ensemble(weights: Path, meta: dict[str, Any], device: str | torch.device):  # noqa: ANN201
    from handwritten_digits.modelio import LoadedModel, build, load_gate, read_weights
    state = read_weights(weights)
    members, norms = [], []
    for i, member in enumerate(meta["members"]):
        prefix = f"members.{i}."
        members.append(build(weights, f"member {i}'s ", member.get("model"), member.get("model_args", {}),
                             {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}))
        norms.append((float(member["input"]["mean"]), float(member["input"]["std"])))
    model = Ensemble(members, norms).to(device).to(memory_format=torch.channels_last).eval()
    gate = load_gate(weights, meta, state, device)
    return LoadedModel(model, meta, weights, {} if gate is None else {"gate": gate})
