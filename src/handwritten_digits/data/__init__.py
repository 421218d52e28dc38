"""Data: IDX files, verified downloads into a local cache, and in-memory tensor splits."""

from handwritten_digits.data.datasets import DATASETS, Split, load_split
from handwritten_digits.data.idx import read_idx, write_idx
from handwritten_digits.data.sources import cache_dir, ensure_dataset

__all__ = ["DATASETS", "Split", "cache_dir", "ensure_dataset", "load_split", "read_idx", "write_idx"]
