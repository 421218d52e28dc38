"""The real-world set generator: every set and condition yields readable images and a consistent manifest."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ is not an installed package

from benchmarks.realworld import generate as G  # noqa: E402
from benchmarks.realworld.score import baseline_input, otsu  # noqa: E402
from benchmarks.realworld.sets import LETTER_EXTRA_FONTS  # noqa: E402

from .conftest import synthetic_digits  # noqa: E402


def _fonts() -> list[str]:
    try:
        return G.font_files()
    except SystemExit:
        pytest.skip("the handwriting font packages are not installed")


def _sources(seed: int = 0, split: str = "score") -> G.Sources:
    digits, labels = synthetic_digits(64, seed=3)
    rng = np.random.default_rng(4)
    fashion = np.zeros((8, 28, 28), np.uint8)
    fashion[:, 4:24, 6:22] = rng.integers(80, 255, (8, 20, 16))
    return G.make_sources(digits, labels, fashion, _fonts(), seed, split)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("realworld")
    counts = dict.fromkeys(G.plan(1.0), 1)
    return out, G.generate(out, _sources(), counts, seed=0)


def test_every_set_and_condition_is_written(generated: tuple[Path, list[dict]]) -> None:
    out, records = generated
    assert {(r["set"], r["condition"]) for r in records} == set(G.plan(1.0))
    lines = (out / "manifest.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == records


def test_images_decode_and_labels_match_kind(generated: tuple[Path, list[dict]]) -> None:
    out, records = generated
    for r in records:
        with Image.open(out / r["file"]) as img:
            img.load()
            assert min(img.size) >= 28, r["file"]
        assert r["kind"] in ("digit", "number", "negative")
        if r["kind"] == "digit":
            assert r["label"] in range(10) and r["text"] is None
        elif r["kind"] == "number":
            assert r["label"] is None and 2 <= len(r["text"]) <= 8 and r["text"].isdigit()
            assert len(r["source"]["indices"]) == len(r["text"])
        else:
            assert r["label"] is None and r["text"] is None
        assert r["kind"] == {"numbers": "number", "negatives": "negative"}.get(r["set"], "digit")


def test_fonts_come_only_from_the_allowed_packages(generated: tuple[Path, list[dict]]) -> None:
    allowed = {Path(f).name for f in _fonts()} | {Path(f).name for f in LETTER_EXTRA_FONTS}
    fonts = {r["source"]["font"] for r in generated[1] if "font" in r["source"]}
    assert fonts and fonts <= allowed


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    counts = {("good", "photo"): 1, ("bad", "perspective"): 1, ("numbers", "photo"): 1}
    a = G.generate(tmp_path / "a", _sources(), counts, seed=7)
    b = G.generate(tmp_path / "b", _sources(), counts, seed=7)
    assert a == b
    for r in a:
        assert (tmp_path / "a" / r["file"]).read_bytes() == (tmp_path / "b" / r["file"]).read_bytes()


def test_tune_and_score_splits_share_no_digit_font_or_clothing() -> None:
    tune, score = _sources(split="tune"), _sources(split="score")
    for name in G.SETS:
        assert not set(tune.digit_order[name]) & set(score.digit_order[name])
        assert set(tune.digit_order[name]) | set(score.digit_order[name]) == set(range(64))
    assert not set(tune.fonts) & set(score.fonts) and tune.fonts and score.fonts
    assert not set(tune.fashion_ids) & set(score.fashion_ids)


def test_splits_draw_different_images(tmp_path: Path) -> None:
    counts = {("good", "photo"): 2, ("negatives", "fashion"): 2, ("negatives", "letters"): 2}
    tune = G.generate(tmp_path / "t", _sources(split="tune"), counts, seed=0)
    score = G.generate(tmp_path / "s", _sources(split="score"), counts, seed=0)
    indices = [set(i for r in recs for i in r["source"].get("indices", [])) for recs in (tune, score)]
    assert indices[0] and not indices[0] & indices[1]
    fonts = [{r["source"]["font"] for r in recs if "font" in r["source"]} for recs in (tune, score)]
    assert not fonts[0] & fonts[1]


def test_baseline_finds_dark_ink_on_light_paper(generated: tuple[Path, list[dict]]) -> None:
    out, records = generated
    canvas = next(r for r in records if r["set"] == "good" and r["condition"] == "canvas")
    x = baseline_input(out / canvas["file"])
    assert x.shape == (28, 28) and x.max() > 100 and x[0].max() == 0  # white ink, centred, black border
    blank = next(r for r in records if r["params"].get("variant") == "white-canvas")
    assert baseline_input(out / blank["file"]).max() == 0
    assert 40 <= otsu(np.r_[np.full(100, 40), np.full(100, 220)]) < 220  # splits the two classes


def test_scoring_writes_one_line_per_image(generated: tuple[Path, list[dict]], tmp_path: Path) -> None:
    from benchmarks.realworld import score
    out, records = generated
    score.main(["--data", str(out), "--tiles", "0", "--out", str(tmp_path / "rw"),
                "--items", str(tmp_path / "items.jsonl")])
    rows = [json.loads(line) for line in (tmp_path / "items.jsonl").read_text().splitlines()]
    singles = [r for r in records if r["kind"] != "number"]
    numbers = [r for r in records if r["kind"] == "number"]
    assert [r["file"] for r in rows] == [r["file"] for r in singles + numbers]
    for row, r in zip(rows, singles + numbers, strict=True):
        assert row["expected"] == (r["text"] if r["kind"] == "number" else r["label"])
    blank = next(row for row in rows if row["condition"] == "blank")
    assert blank["answer"] is None and blank["reason"] == "blank" and blank["right"]
    table = json.loads((tmp_path / "rw.json").read_text())["table"]  # the rows add up to the table
    for name, field in (("good", "accuracy_pct"), ("bad", "accuracy_pct"), ("numbers", "accuracy_pct"),
                        ("negatives", "abstained_pct")):
        right = [row["right"] for row in rows if row["set"] == name]
        assert table[name][field] == round(100 * sum(right) / len(right), 2), name


@pytest.mark.mnist
def test_real_mnist_test_digits(tmp_path: Path) -> None:
    src = G.load_sources(seed=0)
    records = G.generate(tmp_path, src, {("good", "photo"): 2, ("numbers", "photo"): 1}, seed=0)
    for r in records:
        for i, ch in zip(r["source"]["indices"], r["text"] or str(r["label"]), strict=True):
            assert int(src.labels[i]) == int(ch)


def test_a_number_wider_than_the_photo_is_shrunk_to_fit_inside_it() -> None:
    from benchmarks.realworld import scenes as S
    wide = np.zeros((90, 900), np.float32)
    wide[20:70, 10:890] = 1.0
    img, info = S.photo(wide, np.random.default_rng(0), frame=(640, 480))
    x, y, w, h = info["ink_box"]
    assert img.size == (640, 480)
    assert info["fit_scale"] < 1 and x >= 0 and y >= 0 and x + w <= 640 and y + h <= 480
