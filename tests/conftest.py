"""Shared fixtures: an isolated cache, a tiny synthetic IDX data set, a tiny trained run."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from handwritten_digits.data.idx import write_idx

REAL_HOME = Path(os.environ.get("DIGITS_HOME", Path.home() / ".cache" / "handwritten-digits"))


def mnist_cached() -> bool:
    return (REAL_HOME / "mnist" / "t10k-labels-idx1-ubyte").is_file()


@pytest.fixture
def fifo() -> Iterator[Callable[[Path], Path]]:
    """Makes named pipes. Should code under test read one after all, a writer hangs up after 5 s:
    the read then ends (empty) and the test fails instead of hanging."""
    timers: list[threading.Timer] = []

    def hang_up(path: Path) -> None:
        with contextlib.suppress(OSError):  # ENXIO: nobody is reading it
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

    def make(path: Path) -> Path:
        os.mkfifo(path)
        timers.append(threading.Timer(5, hang_up, [path]))
        timers[-1].start()
        return path

    yield make
    for timer in timers:
        timer.cancel()


@pytest.fixture(autouse=True)
def isolated_home(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty cache, except tests marked `mnist`, which see the real one; none
    inherits a DIGITS_RUNTIME choice from the shell."""
    monkeypatch.delenv("DIGITS_RUNTIME", raising=False)
    if request.node.get_closest_marker("mnist"):
        if not mnist_cached():
            pytest.skip("MNIST is not cached: run `make data` (or `digits data download`)")
        monkeypatch.setenv("DIGITS_HOME", str(REAL_HOME))
        return REAL_HOME
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("DIGITS_HOME", str(home))
    monkeypatch.setenv("DIGITS_OFFLINE", "1")
    return home


def synthetic_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 28, 28) uint8 white-on-black digit glyphs with jittered size and position, and labels.

    Rendered with Pillow's built-in font: learnable by a small model in one epoch, and real enough
    digits for the real-world preprocessing to read.
    """
    from PIL import Image, ImageDraw, ImageFont
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    fonts = {size: ImageFont.load_default(size) for size in (26, 28, 30)}
    images = np.zeros((n, 28, 28), np.uint8)
    for i, c in enumerate(labels):
        img = Image.new("L", (28, 28), 0)
        font = fonts[int(rng.choice(list(fonts)))]
        dx, dy = rng.integers(-2, 3, 2)
        ImageDraw.Draw(img).text((14 + dx, 14 + dy), str(c), fill=255, font=font, anchor="mm")
        images[i] = np.asarray(img)
    return images, labels


def write_dataset(folder: Path, n_train: int = 1200, n_test: int = 200) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    x, y = synthetic_digits(n_train, seed=1)
    write_idx(folder / "train-images-idx3-ubyte", x)
    write_idx(folder / "train-labels-idx1-ubyte", y)
    x, y = synthetic_digits(n_test, seed=2)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", x)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", y)
    return folder


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("tiny") / "data")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_dataset: Path) -> Path:
    """A finished 2-epoch seed-mlp run on the tiny data set."""
    from handwritten_digits.train import TrainConfig, fit
    out = tmp_path_factory.mktemp("runs") / "tiny"
    config = TrainConfig(model="seed-mlp", dataset=str(tiny_dataset), epochs=2, batch_size=64,
                         out=str(out))
    old = os.environ.get("DIGITS_HOME")
    os.environ["DIGITS_HOME"] = str(tmp_path_factory.mktemp("runhome"))
    try:
        return fit(config)
    finally:
        if old is None:
            os.environ.pop("DIGITS_HOME")
        else:
            os.environ["DIGITS_HOME"] = old
