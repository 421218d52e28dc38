"""Run folders: checkpoints, per-epoch metrics and model files, and post-training calibration.

Layout of a run folder: config.json, metrics.jsonl (one JSON line per epoch), model.safetensors/.json
(best epoch on validation), last.safetensors/.json (last epoch), checkpoint.pt (optimizer and
schedule position for --resume; loaded with weights_only=True, never as a general pickle).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from handwritten_digits.calibration import calibration_summary, fit_temperature
from handwritten_digits.errors import DigitsError
from handwritten_digits.evaluate import infer
from handwritten_digits.fileio import atomic_path, write_bytes, write_json
from handwritten_digits.modelio import read_sidecar, save_model


def default_run_dir(name: str, seed: int) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{name}-s{seed}-{stamp}"


def save_checkpoint(run: Path, model: nn.Module, opt: torch.optim.Optimizer,
                    state: dict[str, Any]) -> None:
    payload = {"model": model.state_dict(), "optimizer": opt.state_dict(),
               "torch_rng": torch.get_rng_state(), "state": state}
    device = next(model.parameters()).device
    if device.type == "cuda":
        payload["cuda_rng"] = torch.cuda.get_rng_state(device)
    with atomic_path(run / "checkpoint.pt") as tmp:
        torch.save(payload, tmp)


def load_checkpoint(run: Path) -> dict[str, Any]:
    path = run / "checkpoint.pt"
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DigitsError(f"{run}: no checkpoint.pt to resume from") from None
    except (RuntimeError, OSError, EOFError) as e:
        raise DigitsError(f"{path}: unreadable checkpoint ({str(e).splitlines()[0]})") from None


def read_metrics(run: Path) -> list[dict[str, Any]]:
    path = run / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_epoch(run: Path, name: str, model: nn.Module, opt: torch.optim.Optimizer, state: dict[str, Any],
                 history: list[dict[str, Any]], record: dict[str, Any], sidecar: dict) -> None:
    metrics = {k: v for k, v in record.items() if k.startswith(("val_", "test_", "train_"))}
    meta = {**sidecar, "epoch": record["epoch"], "metrics": metrics}
    save_model(run / "last.safetensors", model, meta)
    if record["val_acc"] > state["best_val_acc"]:
        state["best_val_acc"] = record["val_acc"]
        state["best_epoch"] = record["epoch"]
        save_model(run / "model.safetensors", model, meta)
    write_bytes(run / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in history).encode())
    # Written last: a kill before this line replays the epoch from the previous checkpoint.
    save_checkpoint(run, model, opt, state)




def calibrate(spec: str | Path) -> dict[str, Any]:
    """Fit temperature scaling on the validation split; record T and ECE in the model's sidecar.

    One scalar divides the logits, so predictions and accuracy are unchanged; only confidences move.
    """
    from handwritten_digits.data.datasets import load_split
    from handwritten_digits.modelio import load_model
    loaded = load_model(spec)
    assert loaded.path is not None
    dataset = loaded.meta.get("dataset") or "mnist"
    summary: dict[str, Any] = {"fitted_on": f"{dataset}/val", "bins": 15}
    temperature = 1.0
    for split in ("val", "test"):
        data = load_split(dataset, split)
        logits = infer(loaded.model, data.images, loaded.mean, loaded.std)
        if split == "val":
            temperature = fit_temperature(logits, data.labels)
        summary[split] = calibration_summary(logits, data.labels, temperature)
    meta = read_sidecar(loaded.path)
    meta.update(temperature=temperature, calibration=summary)
    write_json(loaded.path.with_suffix(".json"), meta)
    return summary
