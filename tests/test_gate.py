"""The "not a digit" gate: it travels inside the model file, it learns, and the shipped one works."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from handwritten_digits import Recognizer
from handwritten_digits.gate import (
    GATE_ARGS,
    GATE_MODEL,
    GateData,
    _prepared,
    attach,
    not_digit_probability,
    train_gate,
)
from handwritten_digits.modelio import load_model
from handwritten_digits.models import create_model
from handwritten_digits.synthetic import _pair, font_digits, negatives
from tests.conftest import synthetic_digits

HANDWRITING = ("/usr/share/fonts/opentype/lobster/lobster.otf",
               "/usr/share/fonts/truetype/cabinsketch/CabinSketch-Bold.ttf")


def fixed_gate(not_digit: bool) -> torch.nn.Module:
    """A gate whose answer is set by its last bias: always "not a digit", or never."""
    gate = create_model(GATE_MODEL, **GATE_ARGS)
    with torch.no_grad():
        last = gate.classifier[-1]
        last.weight.zero_()
        last.bias.copy_(torch.tensor([-10.0, 10.0] if not_digit else [10.0, -10.0]))
    return gate.eval()


def test_gate_travels_in_the_model_file(tiny_run: Path, tmp_path: Path) -> None:
    digit = synthetic_digits(1, seed=3)[0][0]
    plain = Recognizer.load(tiny_run)
    gated_path = attach(tiny_run, fixed_gate(not_digit=True), tmp_path / "gated", threshold=0.9)
    assert json.loads(gated_path.with_suffix(".json").read_text())["gate"]["threshold"] == 0.9
    gated = Recognizer.load(gated_path)
    assert "gate" in gated.loaded.extra and "gate" not in plain.loaded.extra
    p = gated.predict(digit)
    assert p.reason == "not_a_digit" and p.digit is None
    assert p.probabilities == plain.predict(digit).probabilities  # the classifier is the same
    assert Recognizer.load(gated_path, max_not_digit=1.0).predict(digit).reason != "not_a_digit"
    never = Recognizer.load(attach(gated_path, fixed_gate(not_digit=False), tmp_path / "never"))
    assert never.predict(digit).reason != "not_a_digit"
    assert load_model(tiny_run).meta.get("gate") is None  # the source model is left alone


def test_gate_learns_letters_from_digits() -> None:
    pos = np.concatenate([synthetic_digits(300, seed=1)[0], _prepared(font_digits(100, seed=2))])
    neg = _prepared(negatives(400, seed=3, kinds={"letter": 0.6, "scribble": 0.2, "star": 0.2}))
    images = torch.from_numpy(np.concatenate([pos, neg]))
    labels = torch.cat([torch.zeros(len(pos), dtype=torch.long), torch.ones(len(neg), dtype=torch.long)])
    gate = train_gate(GateData(images, labels), epochs=6, batch_size=64)
    fresh_pos = torch.from_numpy(_prepared(font_digits(60, seed=12)))
    fresh_neg = torch.from_numpy(_prepared(negatives(60, seed=13, kinds={"letter": 1.0})))
    assert (not_digit_probability(gate, fresh_neg) > 0.5).float().mean() > 0.7
    assert (not_digit_probability(gate, fresh_pos) > 0.5).float().mean() < 0.3


def test_pen_letters_pairs_and_shapes_reach_the_gate_as_ink() -> None:
    kinds = {"pen_letter": 1.0, "shape": 1.0}
    raw = negatives(30, seed=5, kinds=kinds)
    digits = synthetic_digits(10, seed=4)[0]
    raw_pairs = [np.asarray(_pair(np.random.default_rng(i), digits)) for i in range(10)]
    prepared = _prepared(raw + raw_pairs)
    assert len(prepared) == 40  # none of them is blank or unreadable to preprocessing
    assert all(8 < np.count_nonzero(p > 128) < 400 for p in prepared)
    again = negatives(30, seed=5, kinds=kinds)
    assert all(np.array_equal(a, b) for a, b in zip(raw, again, strict=True))  # seeded
    assert not np.array_equal(raw[0], negatives(30, seed=6, kinds=kinds)[0])


def _glyph_photo(font: str, char: str) -> np.ndarray:
    img = Image.new("L", (160, 160), 235)
    ImageDraw.Draw(img).text((80, 80), char, fill=30, font=ImageFont.truetype(font, 100), anchor="mm")
    return np.asarray(img)


@pytest.mark.skipif(not all(Path(f).is_file() for f in HANDWRITING), reason="handwriting fonts missing")
def test_shipped_gate_abstains_on_handwritten_letters_not_digits() -> None:
    rec = Recognizer.load()
    letters = [rec.predict(_glyph_photo(f, c)).reason for f in HANDWRITING for c in "AEFHKMNPRWXYaefhkmnrwx"]
    digits = [rec.predict(_glyph_photo(f, c)).digit == int(c) for f in HANDWRITING for c in "0123456789"]
    assert sum(r == "not_a_digit" for r in letters) >= 0.6 * len(letters)
    assert sum(digits) >= 15


@pytest.mark.parametrize("entry", [None, {}, [1], {"model": "fast-cnn", "threshold": None},
                                   {"model": "nope", "threshold": 0.9}])
def test_malformed_gate_entry_is_a_model_error(tiny_run: Path, tmp_path: Path, entry: object) -> None:
    from handwritten_digits.errors import ModelError
    path = attach(tiny_run, fixed_gate(not_digit=True), tmp_path / "gated")
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["gate"] = entry
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="gate"):
        load_model(path)
