"""Calibration measures: reliability bins and expected calibration error (ECE).

Pure numpy functions on predicted probabilities (N, C) and integer labels (N,); torch tensors are
accepted too. Confidence is the top probability; bins are equal-width on (0, 1], a confidence c
falling in bin b when b/n_bins < c <= (b+1)/n_bins, and ECE is the bin-size-weighted mean of
|accuracy - mean confidence| (Guo et al. 2017, "On Calibration of Modern Neural Networks"; 15 bins).
Used by the evaluation report and by temperature scaling.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _arrays(probs: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    if p.ndim != 2 or len(p) != len(y):
        raise ValueError(f"probs must be (N, C) and labels (N,); got {p.shape} and {y.shape}")
    return p, y


def bin_index(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of each confidence in [0, 1]: b with b/n_bins < c <= (b+1)/n_bins (0 goes to bin 0)."""
    return np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)


def reliability_bins(probs: Any, labels: Any, n_bins: int = 15) -> dict[str, list]:
    """Per-bin count, mean confidence and accuracy (None for empty bins), and the n_bins+1 edges."""
    p, y = _arrays(probs, labels)
    confidence = p.max(1) if len(p) else np.zeros(0)
    correct = (p.argmax(1) == y).astype(np.float64) if len(p) else np.zeros(0)
    b = bin_index(confidence, n_bins)
    count = np.bincount(b, minlength=n_bins)
    conf_sum = np.bincount(b, weights=confidence, minlength=n_bins)
    acc_sum = np.bincount(b, weights=correct, minlength=n_bins)
    nonempty = count > 0
    mean_conf = np.divide(conf_sum, count, out=np.zeros(n_bins), where=nonempty)
    mean_acc = np.divide(acc_sum, count, out=np.zeros(n_bins), where=nonempty)
    return {
        "edges": np.linspace(0.0, 1.0, n_bins + 1).tolist(),
        "count": count.astype(int).tolist(),
        "confidence": [float(c) if k else None for c, k in zip(mean_conf, nonempty, strict=True)],
        "accuracy": [float(a) if k else None for a, k in zip(mean_acc, nonempty, strict=True)],
    }


def expected_calibration_error(probs: Any, labels: Any, n_bins: int = 15) -> float:
    """ECE in [0, 1]: sum over bins of |bin| / N * |accuracy(bin) - confidence(bin)|; 0 for N = 0."""
    p, y = _arrays(probs, labels)
    if len(p) == 0:
        return 0.0
    confidence = p.max(1)
    correct = (p.argmax(1) == y).astype(np.float64)
    b = bin_index(confidence, n_bins)
    # Per bin, sum(correct - confidence) = |B| * (acc - conf); its absolute value summed over bins / N.
    gap = np.bincount(b, weights=correct - confidence, minlength=n_bins)
    return float(np.abs(gap).sum() / len(p))


# ----------------------------------------------------------------------------- temperature scaling
def fit_temperature(logits: Any, labels: Any) -> float:
    """The temperature T minimising the NLL of softmax(logits / T) (Guo et al. 2017).

    Fitted on the validation split; one scalar, so the ranking of classes (and accuracy) is unchanged.
    """
    import torch
    z = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 20.0))


def calibration_summary(logits: Any, labels: Any, temperature: float, n_bins: int = 15) -> dict:
    """ECE before and after dividing the logits by `temperature`."""
    import torch
    z = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    return {"temperature": temperature,
            "ece_before": expected_calibration_error(z.softmax(1).numpy(), labels, n_bins),
            "ece_after": expected_calibration_error((z / temperature).softmax(1).numpy(), labels, n_bins)}
