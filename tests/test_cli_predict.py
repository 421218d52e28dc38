"""`digits predict` / `digits read`: directories, JSON lines, per-file errors, exit status, --explain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from handwritten_digits.cli import main


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained seed-mlp saved with its sidecar: enough to exercise the doors."""
    import torch

    from handwritten_digits.modelio import make_sidecar, save_model
    from handwritten_digits.models import create_model
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "model.safetensors"
    return save_model(path, create_model("seed-mlp"), make_sidecar("seed-mlp", {}, list("0123456789")))


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    seven = Image.new("L", (200, 200), 240)
    ImageDraw.Draw(seven).line([(60, 40), (140, 40), (85, 160)], fill=10, width=10)
    seven.save(folder / "seven.png")
    seven.convert("RGB").save(folder / "sub" / "seven.jpg")
    Image.new("L", (100, 100), 255).save(folder / "blank.png")
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_text("hello")
    (folder / "notes.txt").write_text("not an image suffix: skipped by the walk")
    return folder


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_predict_json_walks_dirs_and_reports_errors(capsys, inputs: Path, model_file: Path,
                                                    tmp_path: Path) -> None:
    explain = tmp_path / "explain"
    code, out, _ = run(capsys, "predict", str(inputs), "--model", str(model_file), "--json",
                       "--explain", str(explain))
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    by_name = {Path(r["file"]).name: r for r in rows}
    assert set(by_name) == {"seven.png", "seven.jpg", "blank.png", "empty.png", "text.png"}
    assert by_name["empty.png"]["reason"] == "error" and "empty" in by_name["empty.png"]["error"]
    assert by_name["text.png"]["reason"] == "error" and by_name["text.png"]["digit"] is None
    assert by_name["blank.png"]["reason"] == "blank"
    assert all(len(r["probabilities"]) == 10 for r in rows)
    saved = sorted(p.name for p in explain.iterdir())
    assert len(saved) == 3 and all(np.asarray(Image.open(explain / n)).shape == (28, 28) for n in saved)


def test_exit_2_only_when_every_input_failed(capsys, inputs: Path, model_file: Path) -> None:
    code, out, _ = run(capsys, "predict", str(inputs / "empty.png"), str(inputs / "text.png"),
                       "--model", str(model_file), "--json")
    assert code == 2 and len(out.splitlines()) == 2
    code, _, err = run(capsys, "predict", str(inputs / "empty.png"), str(inputs / "blank.png"),
                       "--model", str(model_file))
    assert code == 0 and "empty.png" in err


def test_min_confidence_flag(capsys, inputs: Path, model_file: Path) -> None:
    code, out, _ = run(capsys, "predict", str(inputs / "seven.png"), "--model", str(model_file),
                       "--json", "--min-confidence", "1")
    assert code == 0 and json.loads(out)["reason"] == "unreadable"


def test_max_distance_flag(capsys, inputs: Path) -> None:
    """The default model's out-of-distribution threshold, overridden from the command line."""
    seven = str(inputs / "seven.png")
    code, out, _ = run(capsys, "predict", seven, "--json")
    assert code == 0 and json.loads(out)["digit"] == 7
    for command in ("predict", "read"):
        code, out, _ = run(capsys, command, seven, "--json", "--max-distance", "1e-6")
        assert code == 0 and json.loads(out)["reason"] == "not_a_digit"
    code, _, err = run(capsys, "predict", seven, "--max-distance", "0")
    assert code == 2 and "--max-distance" in err


def test_max_distance_on_a_model_without_the_score_says_so(capsys, inputs: Path, model_file: Path) -> None:
    code, _, err = run(capsys, "predict", str(inputs / "seven.png"), "--model", str(model_file),
                       "--max-distance", "5")
    assert code == 0 and "no out-of-distribution score" in err


def test_read_json(capsys, inputs: Path, model_file: Path) -> None:
    code, out, _ = run(capsys, "read", str(inputs), "--model", str(model_file), "--json")
    assert code == 0
    rows = {Path(r["file"]).name: r for r in map(json.loads, out.splitlines())}
    assert list(rows["seven.png"]) == ["file", "text", "digits", "reason", "error"]
    assert rows["blank.png"]["reason"] == "blank" and rows["empty.png"]["reason"] == "error"
    for d in rows["seven.png"]["digits"]:
        assert set(d) == {"digit", "confidence", "box"} and len(d["box"]) == 4


def test_plain_output(capsys, inputs: Path, model_file: Path) -> None:
    code, out, err = run(capsys, "predict", str(inputs / "blank.png"), str(inputs / "text.png"),
                         "--model", str(model_file))
    assert code == 0 and "blank.png: - (blank)" in out and "text.png: error" in err


def test_an_error_is_one_whole_line_naming_the_file_once(capsys, tmp_path: Path, model_file: Path) -> None:
    """Piped or captured output is not wrapped at 80 columns, and the file is not named twice."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    (deep / "zero.png").write_bytes(b"")
    code, _, err = run(capsys, "predict", str(deep / "zero.png"), "--model", str(model_file))
    assert code == 2
    assert err.splitlines() == [f"{deep / 'zero.png'}: error: empty file (0 bytes), not an image"]


def test_a_directory_without_images_is_a_failed_input(capsys, inputs: Path, tmp_path: Path,
                                                      model_file: Path) -> None:
    empty = tmp_path / "nothing"
    empty.mkdir()
    (empty / "notes.txt").write_text("no image here")
    for command in ("predict", "read"):
        code, out, err = run(capsys, command, str(empty), "--model", str(model_file))
        assert code == 2 and out == "" and f"{empty}: error: no image files" in err
    code, out, err = run(capsys, "predict", str(empty), str(inputs / "seven.png"), "--model", str(model_file))
    assert code == 0 and "seven.png" in out and "no image files" in err


def test_a_directory_walk_takes_every_format_a_named_file_is_read_in(capsys, tmp_path: Path,
                                                                    model_file: Path) -> None:
    folder = tmp_path / "formats"
    folder.mkdir()
    seven = Image.new("L", (120, 120), 240)
    ImageDraw.Draw(seven).line([(35, 25), (85, 25), (50, 95)], fill=10, width=7)
    names = ["a.pgm", "b.ppm", "c.tga", "d.avif", "e.JFIF", "f.tif"]
    for name in names:
        (seven if name != "b.ppm" else seven.convert("RGB")).save(folder / name,
                                                                  format="JPEG" if name == "e.JFIF" else None)
    (folder / "notes.txt").write_text("not an image")
    code, out, err = run(capsys, "predict", str(folder), "--json", "--model", str(model_file))
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and err == ""
    assert [Path(r["file"]).name for r in lines] == names and all(r["error"] is None for r in lines)


def test_an_output_folder_that_cannot_be_made_is_a_usage_error(capsys, inputs: Path, tmp_path: Path,
                                                               model_file: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, _, err = run(capsys, "predict", str(inputs / "seven.png"), "--model", str(model_file),
                       "--explain", str(blocker / "explain"))
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith(f"error: {blocker / 'explain'}: ")


def test_debug_shows_the_traceback_of_an_os_error(inputs: Path, tmp_path: Path, model_file: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError):
        main(["--debug", "predict", str(inputs / "seven.png"), "--model", str(model_file),
              "--explain", str(blocker / "explain")])


def test_a_pipe_in_a_folder_is_that_files_error_and_the_run_goes_on(capsys, inputs: Path, fifo,  # noqa: ANN001
                                                                   model_file: Path) -> None:
    """Reading a FIFO blocked the whole run; reading /dev/zero would have eaten the memory."""
    fifo(inputs / "fifo.png")
    (inputs / "null.png").symlink_to("/dev/null")  # a device (/dev/zero would never end if read)
    code, out, err = run(capsys, "predict", str(inputs), "--model", str(model_file))
    assert code == 0 and "seven.png: " in out
    assert f"{inputs / 'fifo.png'}: error: not a regular file (a pipe or a device), not read" in err
    assert f"{inputs / 'null.png'}: error: not a regular file (a pipe or a device), not read" in err


def test_an_image_piped_in_is_read(inputs: Path, model_file: Path) -> None:
    """`cat seven.png | digits predict /dev/stdin` (or `<(curl ...)`): a pipe named on the command line."""
    done = subprocess.run([sys.executable, "-m", "handwritten_digits", "predict", "/dev/stdin", "--model",
                           str(model_file)], input=(inputs / "blank.png").read_bytes(), capture_output=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.decode() == "/dev/stdin: - (blank)\n"


def test_pillows_warnings_stay_off_stderr(tmp_path: Path, model_file: Path) -> None:
    """A TIFF whose description tag points past its end reads fine, but Pillow warns in two lines."""
    from .test_preprocess import _tiff_with_a_tag_beyond_its_end
    (tmp_path / "tag.tif").write_bytes(_tiff_with_a_tag_beyond_its_end())
    done = subprocess.run([sys.executable, "-m", "handwritten_digits", "predict", str(tmp_path / "tag.tif"),
                           "--model", str(model_file)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "" and done.stdout.startswith(f"{tmp_path / 'tag.tif'}: ")


def test_a_folder_that_cannot_be_read_is_reported(capsys, inputs: Path, model_file: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """os.walk skips a folder it cannot list unless asked; the images in it were silently left out."""
    walk = os.walk

    def refusing(top: str, onerror=None, **kwargs):  # noqa: ANN001, ANN202 - os.walk's signature
        for root, dirs, names in walk(top, onerror=onerror, **kwargs):
            if root.endswith("sub"):
                onerror(PermissionError(13, "Permission denied", root))
                continue
            yield root, dirs, names

    monkeypatch.setattr(os, "walk", refusing)
    code, out, err = run(capsys, "predict", str(inputs), "--model", str(model_file))
    assert code == 0 and "seven.png: " in out and "seven.jpg" not in out
    assert f"{inputs / 'sub'}: error: cannot read this directory (Permission denied)" in err


def test_an_input_name_too_long_for_an_explain_file_is_cut(capsys, inputs: Path, tmp_path: Path,
                                                            model_file: Path) -> None:
    """A 250-character input name made the --explain file's name too long, which ended the run."""
    long = inputs / ("b" + "x" * 246 + ".png")
    (inputs / "seven.png").rename(long)
    explain = tmp_path / "explain"
    code, out, err = run(capsys, "predict", str(long), str(inputs / "blank.png"), "--model",
                         str(model_file), "--explain", str(explain))
    assert code == 0 and "blank.png: - (blank)" in out and f"{long}: " in out
    assert sorted(len(p.name) for p in explain.iterdir()) == [16, 7 + 120 + 4]  # the stem cut to 120 bytes
    wide = long.rename(inputs / ("é" * 100 + ".png"))  # two bytes each: cut between characters
    run(capsys, "predict", str(wide), "--model", str(model_file), "--explain", str(explain))
    assert f"000000-{'é' * 60}.png" in {p.name for p in explain.iterdir()}


def test_a_name_with_a_line_break_is_printed_on_one_line(capsys, inputs: Path, model_file: Path) -> None:
    odd = inputs / "a\nb.png"
    (inputs / "blank.png").rename(odd)
    code, out, _ = run(capsys, "predict", str(odd), "--model", str(model_file))
    assert code == 0 and out.splitlines() == [f"{inputs}/a\\nb.png: - (blank)"]


def test_a_malformed_pixel_limit_is_one_error(capsys, inputs: Path, model_file: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITS_MAX_PIXELS", "40M")
    code, out, err = run(capsys, "predict", str(inputs / "seven.png"), "--model", str(model_file))
    assert code == 2 and out == ""
    assert err == "error: DIGITS_MAX_PIXELS='40M': expected a whole number of pixels\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_under_the_output_is_exit_2(inputs: Path, model_file: Path) -> None:
    with open("/dev/full", "w") as full:
        command = [sys.executable, "-m", "handwritten_digits", "predict", str(inputs / "seven.png"),
                   "--model", str(model_file)]
        done = subprocess.run(command, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr == "error: the output could not be written (No space left on device)\n"


def test_help_gives_the_defaults_and_an_empty_explain_folder_is_refused(capsys, inputs: Path,
                                                                        model_file: Path) -> None:
    from handwritten_digits.recognize import MIN_CONFIDENCE
    code, out, _ = run(capsys, "predict", "--help")
    text = " ".join(out.split())
    assert code == 0 and f"(default {MIN_CONFIDENCE})" in text and "default: default" not in text
    assert "the package's model, else the latest finished training run" in text
    code, out, err = run(capsys, "predict", str(inputs / "seven.png"), "--explain", "", "--model",
                         str(model_file))
    assert code == 2 and out == "" and "--explain" in err and "give a folder name" in err
