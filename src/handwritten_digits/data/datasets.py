"""Data sets as in-memory tensors: each split is one uint8 tensor, batches are index slices.

The 60k training set is split once into train/val by a fixed seeded permutation that does not depend
on the training seed, so every run, recipe and report sees the same validation images. Validation
drives every choice; the test set is only reported.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from handwritten_digits.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from handwritten_digits.data.sources import SPECS, ensure_dataset, get_spec
from handwritten_digits.errors import DataError

DATASETS = tuple(SPECS)
SPLITS = ("train", "val", "test", "train-full")
VAL_SIZE = 5_000
VAL_SPLIT_SEED = 20_231_124  # fixed forever: changing it changes every reported val figure


@dataclass(frozen=True)
class Split:
    images: torch.Tensor  # (N, 28, 28) uint8, white ink on black like MNIST
    labels: torch.Tensor  # (N,) int64
    class_names: tuple[str, ...]
    name: str

    def __len__(self) -> int:
        return len(self.labels)


def dataset_folder(dataset: str) -> Path:
    """A known data set's verified cache folder, or a user folder holding the four IDX files."""
    if dataset in SPECS:
        return ensure_dataset(dataset)
    folder = Path(dataset).expanduser()
    if not folder.is_dir():
        raise DataError(f"unknown dataset {dataset!r}: not one of {', '.join(SPECS)} "
                        "and not a folder of IDX files")
    return folder


def class_names(dataset: str) -> tuple[str, ...]:
    return get_spec(dataset).class_names if dataset in SPECS else tuple(map(str, range(10)))


@functools.lru_cache(maxsize=8)
def _raw(dataset: str, part: str) -> tuple[np.ndarray, np.ndarray]:
    folder = dataset_folder(dataset)
    prefix = "train" if part == "train" else "t10k"
    x = read_idx(_find(folder, f"{prefix}-images-idx3-ubyte"), expect_magic=IMAGES_MAGIC)
    y = read_idx(_find(folder, f"{prefix}-labels-idx1-ubyte"), expect_magic=LABELS_MAGIC)
    if len(x) != len(y):
        raise DataError(f"{folder}: {len(x)} {prefix} images but {len(y)} labels")
    return x, y


def _find(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(f"{folder}: no {name}[.gz]")


def val_indices(n_train: int, val_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, val_idx) of the fixed split, both sorted."""
    if val_size is None:  # 5k of MNIST's 60k; a twelfth of a small custom set
        val_size = VAL_SIZE if n_train >= 4 * VAL_SIZE else max(1, n_train // 12)
    perm = np.random.default_rng(VAL_SPLIT_SEED).permutation(n_train)
    return np.sort(perm[val_size:]), np.sort(perm[:val_size])


def load_split(dataset: str = "mnist", split: str = "train") -> Split:
    """One split as tensors: 'train' (55k), 'val' (5k), 'test' (10k) or 'train-full' (60k)."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    x, y = _raw(dataset, "test" if split == "test" else "train")
    if split in ("train", "val"):
        idx = val_indices(len(y))[0 if split == "train" else 1]
        x, y = x[idx], y[idx]
    return Split(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y.astype(np.int64)),
                 class_names(dataset), f"{dataset}/{split}")


def describe_cache() -> list[dict]:
    """One row per cached split: dataset, split, image count, bytes on disk, class counts."""
    from handwritten_digits.data.sources import cached_ok, dataset_dir
    rows = []
    for name in SPECS:
        if not cached_ok(name):
            continue
        folder = dataset_dir(name)
        for part, prefix in (("train", "train"), ("test", "t10k")):
            x, y = _raw(name, part)
            size = sum((folder / f"{prefix}-{k}").stat().st_size
                       for k in ("images-idx3-ubyte", "labels-idx1-ubyte"))
            counts = np.bincount(y, minlength=10)
            rows.append({"dataset": name, "split": part, "images": int(len(y)),
                         "size": f"{size / 1e6:.1f} MB", "path": str(folder),
                         "class_counts": {class_names(name)[i]: int(c)
                                          for i, c in enumerate(counts)}})
    return rows
