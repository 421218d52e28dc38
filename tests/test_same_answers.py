"""The answer-identity check: this checkout against a commit, image by image."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw


def _folder(root: Path) -> Path:
    """A digit photo, a blank page and a two-digit number, as the real-world sets lay them out."""
    (root / "good").mkdir(parents=True)
    (root / "numbers").mkdir()
    img = Image.new("L", (200, 200), 230)
    ImageDraw.Draw(img).line([(100, 40), (100, 160)], fill=20, width=9)
    img.save(root / "good" / "one.jpg", quality=90)
    Image.new("L", (120, 120), 240).save(root / "good" / "blank.png")
    num = Image.new("L", (320, 160), 235)
    d = ImageDraw.Draw(num)
    d.line([(80, 30), (80, 130)], fill=20, width=8)
    d.ellipse((170, 30, 250, 130), outline=20, width=8)
    num.save(root / "numbers" / "ten.png")
    return root


def test_differences_name_every_image_that_changed_or_is_missing() -> None:
    from benchmarks.same_answers import differences
    before = {"a.png": [3, None, 0.99, "x"], "b.png": [None, "blank", 0.0, None],
              "c.png": [1, None, 1.0, "y"]}
    after = {"a.png": [3, None, 0.99, "x"], "b.png": [7, None, 0.6, "z"], "d.png": [2, None, 0.9, "w"]}
    diff = differences(before, after)
    assert [d["image"] for d in diff] == ["b.png", "c.png", "d.png"]
    assert diff[1]["after"] is None and diff[2]["before"] is None
    assert differences(before, dict(before)) == []


def test_a_record_holds_each_answer_and_the_reading_of_numbers(tmp_path: Path) -> None:
    from benchmarks.same_answers import record
    rows = record(_folder(tmp_path / "imgs"))
    assert set(rows) == {"good/one.jpg", "good/blank.png", "numbers/ten.png"}
    assert rows["good/blank.png"][:2] == [None, "blank"]
    assert len(rows["good/one.jpg"]) == 4 and len(rows["good/one.jpg"][3]) == 32  # an MD5
    text, _, digits = rows["numbers/ten.png"][4]
    assert len(digits) == 2 and text == "".join(str(d[0]) for d in digits)


@pytest.mark.slow
def test_this_checkout_answers_as_its_own_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import common, same_answers
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    same_answers.main([str(_folder(tmp_path / "imgs")), "--against", "HEAD"])
    result = json.loads((tmp_path / "results" / "same_answers.json").read_text())
    assert result["images"] == 3 and result["differ"] == 0 and result["examples"] == []


@pytest.mark.slow
def test_a_package_that_answers_otherwise_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commit's side must run the commit's code: an older package whose ink search works on a
    coarser copy (a stand-in for a change that moves answers) is told apart from this checkout."""
    from benchmarks import common, same_answers
    old = tmp_path / "old" / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(same_answers.ROOT / "src", old, ignore=skip)
    ink = old / "handwritten_digits" / "ink.py"
    text = ink.read_text()
    assert "\nWORK_SIDE = 256 " in text
    ink.write_text(text.replace("\nWORK_SIDE = 256 ", "\nWORK_SIDE = 48 "))
    monkeypatch.setattr(same_answers, "export", lambda rev, into: old)
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    with pytest.raises(SystemExit) as e:
        same_answers.main([str(_folder(tmp_path / "imgs")), "--against", "older"])
    assert e.value.code == 1
    result = json.loads((tmp_path / "results" / "same_answers.json").read_text())
    assert result["differ"] >= 1 and result["examples"][0]["before"] != result["examples"][0]["after"]


def test_a_folder_without_images_is_a_one_line_error(tmp_path: Path) -> None:
    from benchmarks.same_answers import main
    np.save(tmp_path / "not_an_image.npy", np.zeros(3))
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path), "--against", "HEAD"])
    assert str(e.value) == f"error: {tmp_path}: no images there"
