"""An out-of-distribution score: how far an input's features lie from every MNIST class.

The gate (`handwritten_digits.gate`) learned what a digit is not from synthetic negatives; this score
needs no negatives. The classifier's last convolution stage, max- and mean-pooled over positions, is
modelled as one Gaussian per class with a covariance shared by all classes, fitted on the MNIST
training digits; an input's score is its squared Mahalanobis distance to the nearest class mean (Lee et
al., "A simple unified framework for detecting out-of-distribution samples", NeurIPS 2018). The
Recognizer abstains ("not_a_digit") above the threshold in the model file, as it does for the gate.
The statistics travel in the model file: `ood.means` and `ood.precision` next to the classifier's
tensors, `ood` (threshold, what it was fitted on) in the sidecar.

    python -m handwritten_digits.ood --out runs/default-ood.safetensors   # the package default + score
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from handwritten_digits.errors import DigitsError
from handwritten_digits.evaluate import batches
from handwritten_digits.modelio import LoadedModel, load_model, save_with

THRESHOLD = 1150.0  # squared distance above which an input is not a digit: chosen on the real-world
# tune split and the other collection's tune half (benchmarks/ood_threshold.py); MNIST validation
# digits: median 196, 99.9th percentile 1,232 (0.16% above the threshold)
RIDGE = 1e-3  # of the mean variance, added to the covariance's diagonal before it is inverted


def has_features(loaded: LoadedModel) -> bool:
    return hasattr(loaded.model, "forward_with_features")


@torch.inference_mode()
def logits_and_features(loaded: LoadedModel, images: np.ndarray | torch.Tensor, batch_size: int = 1024
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 28, 28) uint8 -> logits (N, C) and pooled features (N, D), in one pass of the classifier."""
    images = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    logits, feats = [], []
    for x in batches(loaded.model, images, loaded.mean, loaded.std, batch_size):
        out, f = loaded.model.forward_with_features(x)
        logits.append(out.float())
        feats.append(f.float())
    if not logits:
        return torch.empty(0, len(loaded.class_names)), torch.empty(0, 0)
    return torch.cat(logits), torch.cat(feats)


def fit(loaded: LoadedModel, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Class means and the shared covariance's inverse of the classifier's features on `images`."""
    f = logits_and_features(loaded, images)[1].double()
    labels = torch.as_tensor(labels).long()
    counts = torch.bincount(labels, minlength=len(loaded.class_names))
    if len(counts) > len(loaded.class_names) or int(counts.min()) < 2:
        raise DigitsError(f"OOD statistics need at least two images of every class (got {counts.tolist()})")
    means = torch.stack([f[labels == c].mean(0) for c in range(len(loaded.class_names))])
    r = f - means[labels]
    cov = r.T @ r / len(r)
    cov += RIDGE * cov.diagonal().mean() * torch.eye(len(cov), dtype=cov.dtype)
    return {"means": means.float(), "precision": torch.linalg.inv(cov).float()}


def distance(features: torch.Tensor | np.ndarray, stats: dict) -> np.ndarray:
    """(N, D) features -> (N,) squared Mahalanobis distance to the nearest class mean, expanded as
    f'Pf - 2 m'Pf + m'Pm so that the precision matrix P multiplies each input once, not once per class.
    In numpy: for the one image a request carries, a fifth of the time of the same in torch."""
    if "_terms" not in stats:  # m'P and m'Pm depend on the model alone: computed once per model
        means, precision = (np.asarray(stats[k], np.float32) for k in ("means", "precision"))
        stats["_terms"] = (precision, means @ precision, ((means @ precision) * means).sum(1))
    precision, projected, spread = stats["_terms"]
    f = np.asarray(features, np.float32)
    d = ((f @ precision) * f).sum(1, keepdims=True) - 2 * f @ projected.T + spread
    return np.maximum(d.min(1), 0) if len(f) else np.zeros(0, np.float32)


def attach(model_spec: str | Path | None, out: Path, threshold: float = THRESHOLD,
           data: tuple[torch.Tensor, torch.Tensor] | None = None) -> Path:
    """Write a copy of the model (gate and all) with its OOD statistics fitted on `data` (uint8 images,
    labels; default the MNIST training split)."""
    loaded = load_model(model_spec)
    if not has_features(loaded) or loaded.path is None:
        raise DigitsError(f"{loaded.path}: model {loaded.meta.get('model')!r} exposes no features")
    dataset = loaded.meta.get("dataset") or "mnist"
    fitted_on = f"{dataset}/train" if data is None else "given"
    if data is None:
        from handwritten_digits.data.datasets import load_split

        train = load_split(dataset, "train")
        data = (train.images, train.labels)
    stats = fit(loaded, *data)
    entry = {"threshold": threshold, "fitted_on": fitted_on, "ridge": RIDGE,
             "features": "last stage, max- and mean-pooled"}
    return save_with(loaded.path, out, "ood", entry, stats)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="run folder or .safetensors (default: the package default)")
    ap.add_argument("--out", type=Path, required=True, help="the copy with the score (.safetensors)")
    ap.add_argument("--threshold", type=float, default=THRESHOLD)
    args = ap.parse_args(argv)
    print(attach(args.model, args.out, args.threshold))


if __name__ == "__main__":
    main()
