"""The numbers behind a run's report: read the run folder, evaluate its model on the test set.

`evaluate_run()` loads the best-on-validation model, runs it over the run's test split (in chunks, so
progress can be shown) and returns everything the figures and the page need. The small helpers
(`confused_pairs`, `top_errors`, `predictions`) are pure functions on arrays.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError

from handwritten_digits.errors import DigitsError
from handwritten_digits.fileio import atomic_path

log = logging.getLogger(__name__)

# progress(stage, done, total): called as a long step advances (e.g. images evaluated so far).
ProgressFn = Callable[[str, int, int], None]
EVAL_CHUNK = 2_000  # images per progress update


@dataclass
class RunEvaluation:
    """A run's config, history and sidecar, with its model's test-set outputs."""

    run: Path
    config: dict[str, Any]
    history: list[dict[str, Any]]
    meta: dict[str, Any]
    images: torch.Tensor  # (N, 28, 28) uint8 test images
    labels: np.ndarray  # (N,) int64
    logits: np.ndarray  # (N, C) float32
    probs: np.ndarray  # (N, C) float64, softmax(logits / temperature)
    metrics: dict[str, Any]  # evaluate.metrics() on the test logits
    evaluate_s: float

    @property
    def class_names(self) -> list[str]:
        return list(self.meta["class_names"])

    @property
    def predicted(self) -> np.ndarray:
        return self.probs.argmax(1)

    @property
    def confidence(self) -> np.ndarray:
        return self.probs.max(1)


def read_run(run: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(config, per-epoch history) of a finished run folder; DigitsError when it is not one."""
    if not run.is_dir():
        raise DigitsError(f"{run}: no such run folder")
    if not (run / "model.safetensors").is_file():
        raise DigitsError(f"{run}: not a finished run (no model.safetensors); train one with "
                          "`digits train --out DIR`")
    try:
        config = json.loads((run / "config.json").read_text())
        lines = (run / "metrics.jsonl").read_text().splitlines()
        history = [json.loads(line) for line in lines if line.strip()]
    except FileNotFoundError as e:
        raise DigitsError(f"{run}: incomplete run folder ({Path(e.filename).name} missing)") from None
    except json.JSONDecodeError as e:
        raise DigitsError(f"{run}: corrupt config.json or metrics.jsonl ({e})") from None
    return config, history


def evaluate_run(run: Path, progress: ProgressFn | None = None) -> RunEvaluation:
    """Load the run's best model and evaluate it on the test split of the run's data set."""
    from handwritten_digits.data.datasets import load_split
    from handwritten_digits.evaluate import infer, metrics
    from handwritten_digits.modelio import load_model

    config, history = read_run(run)
    loaded = load_model(run)
    dataset = config.get("dataset") or loaded.meta.get("dataset", "mnist")
    test = load_split(dataset, "test")
    start = time.perf_counter()
    n = len(test)
    logits = _cached_logits(run, n)
    if logits is None:
        chunks = []
        for i in range(0, n, EVAL_CHUNK):
            chunks.append(infer(loaded.model, test.images[i:i + EVAL_CHUNK], loaded.mean, loaded.std))
            if progress:
                progress("evaluating", min(n, i + EVAL_CHUNK), n)
        logits = torch.cat(chunks) if chunks else torch.empty(0, len(loaded.class_names))
        _store_logits(run, logits)
    elif progress:
        progress("evaluating", n, n)
    seconds = time.perf_counter() - start
    log.info("evaluated %d test images in %.2fs", n, seconds)
    probs = torch.softmax(logits.double() / loaded.temperature, 1).numpy()
    result = metrics(logits, test.labels, loaded.class_names)
    return RunEvaluation(run, config, history, loaded.meta, test.images, test.labels.numpy(),
                         logits.numpy(), probs, result, seconds)


LOGITS_CACHE = "test_logits.safetensors"


def _weights_digest(run: Path) -> str:
    return hashlib.sha256((run / "model.safetensors").read_bytes()).hexdigest()


def _cached_logits(run: Path, n: int) -> torch.Tensor | None:
    """The run's test logits from an earlier report, if they belong to these exact weights."""
    from safetensors import safe_open
    path = run / LOGITS_CACHE
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), "pt") as f:
            if (f.metadata() or {}).get("weights_sha256") != _weights_digest(run):
                return None
            logits = f.get_tensor("logits")
    except (OSError, SafetensorError):
        return None
    return logits if len(logits) == n else None


def _store_logits(run: Path, logits: torch.Tensor) -> None:
    from safetensors.torch import save_file
    with atomic_path(run / LOGITS_CACHE) as tmp:
        save_file({"logits": logits.contiguous()}, str(tmp),
                  metadata={"weights_sha256": _weights_digest(run)})


def confused_pairs(confusion: list[list[int]], names: list[str], k: int = 10) -> list[dict]:
    """The k largest off-diagonal cells: true class, predicted class, count, share of the true class."""
    cm = np.asarray(confusion, dtype=np.int64)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")[:k]
    rows = []
    for flat in order:
        t, p = divmod(int(flat), cm.shape[1])
        if off[t, p] == 0:
            break
        rows.append({"true": names[t], "predicted": names[p], "count": int(off[t, p]),
                     "share_of_true": float(off[t, p] / max(1, cm[t].sum()))})
    return rows


def predictions(indices: np.ndarray, labels: np.ndarray, probs: np.ndarray,
                names: list[str]) -> list[dict]:
    """One record per index: test index, true and predicted class names, confidence."""
    return [{"index": int(i), "true": names[int(labels[i])],
             "predicted": names[int(probs[i].argmax())], "confidence": float(probs[i].max())}
            for i in indices]


def top_errors(labels: np.ndarray, probs: np.ndarray, k: int = 24) -> np.ndarray:
    """Indices of the k misclassified images the model was most confident about, most confident first."""
    wrong = np.flatnonzero(probs.argmax(1) != labels)
    order = np.argsort(-probs[wrong].max(1), kind="stable")
    return wrong[order[:k]]
