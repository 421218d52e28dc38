"""The `digits` command: the tiny end-to-end path, and one clear line with exit 2 for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from handwritten_digits import modelio
from handwritten_digits.cli import main
from handwritten_digits.data.idx import encode_idx

from .conftest import synthetic_digits


def run_cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_train_evaluate_predict_end_to_end(capsys: pytest.CaptureFixture, tiny_dataset: Path,
                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    code, out, _ = run_cli(capsys, "train", "--model", "seed-mlp", "--dataset", str(tiny_dataset),
                           "--epochs", "3", "--batch-size", "32", "--out", str(run), "--no-report")
    assert code == 0 and "run folder" in out
    code, out, _ = run_cli(capsys, "evaluate", str(run), "--json")
    result = json.loads(out)
    assert code == 0 and result["accuracy"] > 0.9 and result["n"] == 200
    assert len(result["confusion"]) == 10 and set(result["per_class"]) == {str(i) for i in range(10)}
    x, y = synthetic_digits(3, seed=7)
    files = []
    for i in range(3):
        files.append(tmp_path / f"{i}.png")
        Image.fromarray(x[i]).save(files[-1])
    code, out, err = run_cli(capsys, "predict", "--model", str(run), "--json", *map(str, files))
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0, err
    assert [r["digit"] for r in lines] == [int(v) for v in y]
    assert all(len(r["probabilities"]) == 10 and r["file"] for r in lines)
    # Without a shipped default model, the most recent finished run is the default.
    monkeypatch.setattr(modelio, "PACKAGE_DEFAULT", tmp_path / "none.safetensors")
    code, out, _ = run_cli(capsys, "evaluate", "--json")
    assert code == 0 and json.loads(out)["models"][0].startswith(str(run))


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _bad_dataset(tmp_path: Path, tiny_dataset: Path, name: str, data: bytes) -> Path:
    folder = tmp_path / "bad"
    for f in tiny_dataset.iterdir():
        _write(folder / f.name, f.read_bytes())
    for f in folder.glob(name + "*"):
        f.unlink()
    _write(folder / name, data)
    return folder


@pytest.mark.parametrize(("args", "message"), [
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--batch-size", "-3"], "--batch-size"),
    (["train", "--lr", "-1"], "--lr"),
    (["train", "--model", "nope"], "unknown model 'nope'"),
    (["train", "--dataset", "/nonexistent/folder"], "unknown dataset"),
    (["train", "--recipe", "nope"], "unknown recipe 'nope'"),
    (["train", "--resume", "/nonexistent/run"], "not a run folder"),
    (["train", "--recipe", "best", "--model-arg", "kernel"], "KEY=VALUE"),
    (["train", "--recipe", "best", "--model-arg", "kernel=4"], "kernel must be odd"),
    (["train", "--recipe", "best", "--model-arg", "kernel=true"], "kernel must be odd"),
    (["models", "nope"], "unknown model 'nope'"),
    (["evaluate", "/nonexistent/run"], "no model found"),
    (["predict", "--model", "/nonexistent/run", "x.png"], "no model found"),
    (["data", "download", "--dataset", "nope"], "Invalid value"),
    (["data", "download", "--from", "/nonexistent"], "not a folder"),
    (["frobnicate"], "No such command"),
])
def test_bad_input_one_line_exit_2(capsys: pytest.CaptureFixture, args: list[str], message: str) -> None:
    code, _, err = run_cli(capsys, *args)
    assert code == 2
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


@pytest.mark.parametrize(("name", "data", "message"), [
    ("train-images-idx3-ubyte", encode_idx(synthetic_digits(1200)[0])[:-100], "truncated"),
    ("train-labels-idx1-ubyte", b"\x00\x00\x09\x09" + b"\x00" * 20, "IDX magic 2313, expected 2049"),
    ("train-labels-idx1-ubyte", encode_idx(np.zeros(5, np.uint8)), "1200 train images but 5 labels"),
])
def test_corrupt_dataset_one_line_exit_2(capsys: pytest.CaptureFixture, tmp_path: Path,
                                         tiny_dataset: Path, name: str, data: bytes, message: str) -> None:
    folder = _bad_dataset(tmp_path, tiny_dataset, name, data)
    code, _, err = run_cli(capsys, "train", "--model", "seed-mlp", "--dataset", str(folder),
                           "--out", str(tmp_path / "run"))
    assert code == 2 and message in err and err.count("\n") == 1


def test_checksum_mismatch_one_line_exit_2(capsys: pytest.CaptureFixture, tmp_path: Path,
                                           tiny_dataset: Path) -> None:
    code, _, err = run_cli(capsys, "data", "download", "--dataset", "mnist", "--from", str(tiny_dataset))
    assert code == 2 and "MD5" in err and err.strip().count("\n") == 0


def test_a_file_that_is_not_a_model_is_named_as_such(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    image = tmp_path / "digit.png"
    image.write_bytes(b"not a model")
    code, _, err = run_cli(capsys, "predict", "--model", str(image), str(image))
    assert code == 2 and err.strip() == f"error: {image}: not a model file (expected a run folder or a " \
        ".safetensors file)"


@pytest.mark.mnist
def test_a_missing_from_folder_is_refused_even_when_cached(capsys: pytest.CaptureFixture) -> None:
    """With MNIST cached nothing is fetched, but a --from that is not there is still an error."""
    code, _, err = run_cli(capsys, "data", "download", "--from", "/nonexistent")
    assert code == 2 and err.strip() == "error: /nonexistent: not a folder"


def test_python_dash_m_entry_point() -> None:
    proc = subprocess.run([sys.executable, "-m", "handwritten_digits", "models"], capture_output=True,
                          text=True, check=True)
    assert "seed-cnn" in proc.stdout and "3,274,634" in proc.stdout


def test_model_arg_reaches_the_saved_model(capsys: pytest.CaptureFixture, tiny_dataset: Path,
                                           tmp_path: Path) -> None:
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "--recipe", "best", "--model-arg", "kernel=5",
                           "--model-arg", "width=4", "--dataset", str(tiny_dataset), "--epochs", "1",
                           "--out", str(run), "--no-report")
    assert code == 0, err
    convs = [m for m in modelio.load_model(run).model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and {c.kernel_size for c in convs} == {(5, 5)} and convs[0].out_channels == 4


def test_evaluating_on_data_of_other_classes_warns(tiny_dataset: Path, tiny_run: Path, tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    import torch

    from handwritten_digits.evaluate import evaluate_models
    from handwritten_digits.modelio import make_sidecar, save_model
    from handwritten_digits.models import create_model
    torch.manual_seed(0)
    clothes = save_model(tmp_path / "clothes.safetensors", create_model("seed-mlp"),
                         make_sidecar("seed-mlp", {}, ["T-shirt", "Trouser", "Pullover", *"abcdefg"]))
    with caplog.at_level("WARNING", logger="handwritten_digits.evaluate"):
        evaluate_models([str(tiny_run)], dataset=str(tiny_dataset))
        assert not caplog.records  # the same classes: nothing to say
        result = evaluate_models([str(clothes)], dataset=str(tiny_dataset))
    assert result["n"] == 200
    (record,) = caplog.records
    assert "(T-shirt, Trouser, Pullover, ...) are not" in record.getMessage()
    assert "(0, 1, 2, ...)" in record.getMessage() and str(clothes) in record.getMessage()
    caplog.clear()
    with caplog.at_level("WARNING", logger="handwritten_digits.evaluate"):  # an ensemble: each member
        evaluate_models([str(tiny_run), str(clothes)], dataset=str(tiny_dataset))
    assert [str(clothes) in r.getMessage() for r in caplog.records] == [True]
