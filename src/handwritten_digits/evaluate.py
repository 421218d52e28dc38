"""Inference and metrics: `infer()` turns images into logits, `metrics()` turns logits into numbers.

Both are small and pure; printing and plotting live in the callers (CLI, report).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)

def prepare(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """(N, 28, 28) uint8 or float in [0, 1] -> (N, 1, 28, 28) float32, normalised."""
    x = images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if mean != 0.0 or std != 1.0:
        x = (x - mean) / std
    return x


def batches(model: nn.Module, images: torch.Tensor, mean: float, std: float, batch_size: int = 256,
            device: str | torch.device = "cpu") -> Iterator[torch.Tensor]:
    """`model` in eval mode, and `images` as its normalised channels-last input, `batch_size` at a time."""
    if any(m.training for m in model.modules()):  # eval() costs more than this check per call when
        model.eval()  # serving one image at a time
    for start in range(0, len(images), batch_size):
        x = prepare(images[start:start + batch_size], mean, std).to(device)
        yield x.contiguous(memory_format=torch.channels_last)


@torch.inference_mode()
def infer(model: nn.Module, images: torch.Tensor, mean: float = 0.0, std: float = 1.0,
          batch_size: int = 256, device: str | torch.device = "cpu",
          tta: bool = False) -> torch.Tensor:
    """Logits (N, C) float32 for uint8 images (N, 28, 28); `tta` averages shifted copies."""
    out = []
    for x in batches(model, images, mean, std, batch_size, device):
        if tta:
            from handwritten_digits.augment import tta_views
            logits = torch.stack([model(v).float().log_softmax(1) for v in tta_views(x)]).mean(0)
        else:
            logits = model(x).float()
        out.append(logits.cpu())
    return torch.cat(out) if out else torch.empty(0, 10)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return (logits.argmax(1) == labels).float().mean().item()


def confusion_matrix(pred: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(C, C) counts; rows are true classes, columns predictions."""
    idx = labels * num_classes + pred
    return torch.bincount(idx, minlength=num_classes**2).reshape(num_classes, num_classes)


def metrics(logits: torch.Tensor, labels: torch.Tensor, class_names: list[str] | None = None
            ) -> dict:
    """Loss, accuracy, per-class precision/recall/F1 and the confusion matrix as plain numbers."""
    num_classes = logits.shape[1]
    names = class_names or [str(i) for i in range(num_classes)]
    pred = logits.argmax(1)
    cm = confusion_matrix(pred, labels, num_classes).double()
    tp = cm.diag()
    precision = tp / cm.sum(0).clamp(min=1)
    recall = tp / cm.sum(1).clamp(min=1)
    f1 = 2 * precision * recall / (precision + recall).clamp(min=1e-12)
    per_class = {
        names[c]: {"precision": precision[c].item(), "recall": recall[c].item(),
                   "f1": f1[c].item(), "support": int(cm[c].sum().item())}
        for c in range(num_classes)
    }
    return {
        "n": len(labels),
        "accuracy": (pred == labels).double().mean().item(),
        "loss": F.cross_entropy(logits.float(), labels).item(),
        "errors": int((pred != labels).sum().item()),
        "per_class": per_class,
        "confusion": cm.long().tolist(),
    }


def evaluate_models(specs: list[str | None], split: str = "test", dataset: str | None = None,
                    tta: bool = False) -> dict:
    """Metrics of one model, or of an ensemble (mean of log-probabilities) of several."""
    from handwritten_digits.data.datasets import load_split
    from handwritten_digits.modelio import load_model
    loaded = [load_model(s) for s in specs]
    dataset = dataset or loaded[0].meta.get("dataset", "mnist")
    data = load_split(dataset, split)
    for m in loaded:
        if list(m.class_names) != list(data.class_names):  # a digit model scored on clothing
            log.warning("%s: the model's classes (%s) are not %s's (%s): labels are compared by their "
                        "index", m.path, _names(m.class_names), dataset, _names(data.class_names))
    logps = [infer(m.model, data.images, m.mean, m.std, tta=tta).log_softmax(1) for m in loaded]
    logits = torch.stack(logps).mean(0)
    result = metrics(logits, data.labels, list(data.class_names))
    names = [str(m.path) for m in loaded]
    return {"model": names[0] if len(names) == 1 else f"ensemble of {len(names)}",
            "models": names, "dataset": dataset, "split": split, "tta": tta, **result}


def _names(names: list[str] | tuple[str, ...]) -> str:
    return ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
