"""Read and write IDX files (the MNIST container format), raw or gzip-compressed.

Layout: two zero bytes, a dtype byte, a dimension count byte, one big-endian uint32 per dimension,
then the data, big-endian. Every deviation is reported as a `DataError` naming the file.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

from handwritten_digits.errors import DataError
from handwritten_digits.fileio import write_bytes

# IDX dtype byte -> numpy dtype (big-endian as stored).
_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in _DTYPES.items()}
# The magic numbers MNIST's files carry: 2049 = uint8 with 1 dim, 2051 = uint8 with 3 dims.
LABELS_MAGIC, IMAGES_MAGIC = 2049, 2051


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise DataError(f"{path}: corrupt gzip stream ({e})") from None
    return raw


def parse_idx(data: bytes, name: str = "<bytes>", expect_magic: int | None = None) -> np.ndarray:
    """Parse IDX bytes (already decompressed) into a native-endian numpy array."""
    if len(data) < 4:
        raise DataError(f"{name}: too short to be an IDX file ({len(data)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    magic = struct.unpack(">I", data[:4])[0]
    if zero != 0 or code not in _DTYPES or ndim == 0:
        raise DataError(f"{name}: bad IDX magic 0x{magic:08x} (not an IDX file)")
    if expect_magic is not None and magic != expect_magic:
        raise DataError(f"{name}: IDX magic {magic}, expected {expect_magic}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{name}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header
    if actual != expected:
        what = "truncated" if actual < expected else "has trailing bytes"
        raise DataError(
            f"{name}: {what}: dims {list(dims)} declare {expected} data bytes, found {actual}"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)  # writable, native-endian


def read_idx(path: str | os.PathLike, expect_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip detected by its magic bytes) into a numpy array."""
    path = Path(path)
    return parse_idx(_read_bytes(path), str(path), expect_magic)


def encode_idx(array: np.ndarray) -> bytes:
    """IDX bytes for `array` (uint8, int8, int16, int32, float32 or float64)."""
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise DataError(f"cannot store dtype {array.dtype} in IDX")
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(_DTYPES[code], copy=False).tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> None:
    """Write `array` as IDX, atomically; gzip when `compress` or when the name ends in .gz."""
    path = Path(path)
    data = encode_idx(array)
    if compress or (compress is None and path.suffix == ".gz"):
        data = gzip.compress(data, mtime=0)
    write_bytes(path, data)
