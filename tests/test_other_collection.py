"""The other-collection benchmark: its data is fetched once and checked, its 8x8 digits drawn as dark ink
on a light page."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from benchmarks.other_collection import MARGIN, UPSAMPLE, render

from handwritten_digits.errors import DataError


def test_render_puts_dark_ink_where_the_block_is_inked_on_a_white_page() -> None:
    block = np.zeros((8, 8), np.uint8)
    assert (render(block) == 255).all()
    block[1:7, 3] = 16  # a vertical bar in column 3
    page = render(block)
    assert page.shape == (8 * UPSAMPLE + 2 * MARGIN,) * 2
    ink = np.argwhere(page < 128)
    cols = ink[:, 1] - MARGIN
    assert cols.min() >= 2 * UPSAMPLE and cols.max() < 5 * UPSAMPLE  # around column 3, blurred a little
    assert (page[:MARGIN] == 255).all() and (page[:, -MARGIN:] == 255).all()


def test_optdigits_are_fetched_once_checked_and_a_damaged_copy_fetched_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import other_collection as oc
    rows = "\n".join(",".join(["0"] * 63 + ["16", str(k)]) for k in range(3)) + "\n"
    blob = gzip.compress(rows.encode())
    fetched = []

    def member(wheel: str, name: str) -> bytes:
        fetched.append(name)
        return blob

    monkeypatch.setenv("DIGITS_HOME", str(tmp_path))
    monkeypatch.setattr(oc, "wheel_member", member)
    monkeypatch.setattr(oc, "SHA256", hashlib.sha256(blob).hexdigest())
    images, labels = oc.load_optdigits()
    assert images.shape == (3, 8, 8) and images[0, 7, 7] == 16 and list(labels) == [0, 1, 2]
    oc.load_optdigits()
    assert len(fetched) == 1  # the second call reads the cache
    (tmp_path / "optdigits" / "digits.csv.gz").write_bytes(b"damaged")
    oc.load_optdigits()
    assert len(fetched) == 2
    monkeypatch.setattr(oc, "SHA256", "0" * 64)
    with pytest.raises(DataError, match="unexpected SHA-256"):
        oc.load_optdigits()


def test_benchmark_scores_with_the_gate_and_with_it_off(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole benchmark on 20 hand-made blocks: both rows (gate on, gate off) are written."""
    from benchmarks import common
    from benchmarks import other_collection as oc
    blocks = np.zeros((20, 8, 8), np.uint8)
    blocks[:, 1:7, 3:5] = 16  # a bar, whatever its label: each half holds every digit once
    labels = np.repeat(np.arange(10), 2)
    monkeypatch.setattr(oc, "load_optdigits", lambda: (blocks, labels))
    monkeypatch.setattr(common, "RESULTS", tmp_path)  # the real writer, into tmp_path
    real, loaded = oc.Recognizer, []

    class Recording:
        @staticmethod
        def load(*args: object, **kwargs: object) -> object:
            loaded.append(real.load(*args, **kwargs))
            return loaded[-1]
    monkeypatch.setattr(oc, "Recognizer", Recording)
    oc.main(["--out", "probe"])
    assert [r.flat_gate_threshold is None for r in loaded] == [False, True]  # the second: gate off
    rows = json.loads((tmp_path / "probe.json").read_text())
    assert {"tune/gated", "tune/no_gate", "score/gated", "score/no_gate"} <= set(rows)
    assert rows["tune/no_gate"]["n"] == 10
