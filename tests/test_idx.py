"""IDX round trips and every way a file can be corrupt."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from handwritten_digits.data.idx import IMAGES_MAGIC, LABELS_MAGIC, encode_idx, read_idx, write_idx
from handwritten_digits.errors import DataError


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
def test_round_trip(tmp_path: Path, dtype: str, name: str) -> None:
    arr = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    write_idx(tmp_path / name, arr)
    back = read_idx(tmp_path / name)
    assert back.dtype == arr.dtype and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)
    assert back.flags.writeable


def test_mnist_magic_numbers(tmp_path: Path) -> None:
    write_idx(tmp_path / "img", np.zeros((2, 28, 28), np.uint8))
    write_idx(tmp_path / "lab", np.zeros(2, np.uint8))
    assert struct.unpack(">I", (tmp_path / "img").read_bytes()[:4])[0] == IMAGES_MAGIC
    assert struct.unpack(">I", (tmp_path / "lab").read_bytes()[:4])[0] == LABELS_MAGIC
    read_idx(tmp_path / "img", expect_magic=IMAGES_MAGIC)
    with pytest.raises(DataError, match="expected 2049"):
        read_idx(tmp_path / "img", expect_magic=LABELS_MAGIC)


def _corrupt(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(data)
    return path


GOOD = encode_idx(np.ones((3, 28, 28), np.uint8))


@pytest.mark.parametrize(("data", "message"), [
    (b"", "too short"),
    (b"\x00\x00", "too short"),
    (b"\x12\x34\x08\x03" + GOOD[4:], "bad IDX magic"),
    (b"\x00\x00\x07\x03" + GOOD[4:], "bad IDX magic"),
    (GOOD[:10], "truncated IDX header"),
    (GOOD[:-1], "truncated"),
    (GOOD + b"\x00", "trailing bytes"),
    (b"\x1f\x8b" + b"garbage" * 3, "corrupt gzip"),
    (gzip.compress(GOOD)[:-8], "corrupt gzip"),
])
def test_corrupt_files_are_clear_errors(tmp_path: Path, data: bytes, message: str) -> None:
    path = _corrupt(tmp_path, data)
    with pytest.raises(DataError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_idx(tmp_path / "nope")


def test_unsupported_dtype() -> None:
    with pytest.raises(DataError, match="cannot store"):
        encode_idx(np.zeros(3, np.complex64))
