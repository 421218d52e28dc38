"""Training end to end on tiny synthetic data: run folder, determinism, exact resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from handwritten_digits.errors import DigitsError
from handwritten_digits.modelio import load_model
from handwritten_digits.train import TrainConfig, fit, lr_at, read_metrics


def _config(dataset: Path, out: Path, **kw: object) -> TrainConfig:
    base = TrainConfig(model="seed-mlp", dataset=str(dataset), epochs=2, batch_size=64, out=str(out))
    return replace(base, **kw)


def test_run_folder_contents(tiny_run: Path) -> None:
    names = {p.name for p in tiny_run.iterdir()}
    assert {"config.json", "metrics.jsonl", "model.safetensors", "model.json", "last.safetensors",
            "last.json", "checkpoint.pt"} <= names
    history = read_metrics(tiny_run)
    assert [r["epoch"] for r in history] == [1, 2]
    assert history[-1]["val_acc"] > 0.9  # the synthetic classes are easy
    meta = json.loads((tiny_run / "model.json").read_text())
    assert meta["model"] == "seed-mlp" and meta["class_names"] == [str(i) for i in range(10)]
    assert {"torch", "numpy"} <= set(meta["versions"]) and meta["input"]["size"] == [28, 28]
    assert meta["temperature"] > 0 and meta["calibration"]["fitted_on"].endswith("/val")
    assert meta["calibration"]["val"]["ece_after"] <= meta["calibration"]["val"]["ece_before"] + 1e-6
    assert json.loads((tiny_run / "config.json").read_text())["epochs"] == 2
    loaded = load_model(tiny_run)
    assert loaded.meta["epoch"] in (1, 2)


def test_same_seed_same_metrics(tiny_dataset: Path, tmp_path: Path) -> None:
    a = read_metrics(fit(_config(tiny_dataset, tmp_path / "a", epochs=1)))
    b = read_metrics(fit(_config(tiny_dataset, tmp_path / "b", epochs=1)))
    c = read_metrics(fit(_config(tiny_dataset, tmp_path / "c", epochs=1, seed=1)))
    keys = ("train_loss", "val_loss", "val_acc", "test_loss")
    assert [a[0][k] for k in keys] == [b[0][k] for k in keys]
    assert a[0]["train_loss"] != c[0]["train_loss"]


def test_the_flag_share_is_part_of_the_seeded_run(tiny_dataset: Path, tmp_path: Path) -> None:
    keys = ("train_loss", "val_loss", "val_acc")
    plain = read_metrics(fit(_config(tiny_dataset, tmp_path / "plain", epochs=1)))[0]
    a = read_metrics(fit(_config(tiny_dataset, tmp_path / "a", epochs=1, flag=1.0)))[0]
    b = read_metrics(fit(_config(tiny_dataset, tmp_path / "b", epochs=1, flag=1.0)))[0]
    assert [a[k] for k in keys] == [b[k] for k in keys]  # replays exactly
    assert a["train_loss"] != plain["train_loss"]  # and the 1s were given flags
    assert json.loads((tmp_path / "a" / "config.json").read_text())["flag"] == 1.0
    with pytest.raises(DigitsError, match="--flag must be in"):
        fit(_config(tiny_dataset, tmp_path / "c", flag=1.5))


def test_refuses_to_overwrite_a_run(tiny_run: Path, tiny_dataset: Path) -> None:
    with pytest.raises(DigitsError, match="already holds a run"):
        fit(_config(tiny_dataset, tiny_run))


def test_onecycle_schedule_shape() -> None:
    config = TrainConfig(schedule="onecycle", lr=1.0, warmup=0.25)
    lrs = [lr_at(config, s, 100) for s in range(101)]
    assert lrs[0] < 0.1 and max(lrs) == pytest.approx(1.0, abs=0.02) and lrs[-1] == 0.0
    assert lrs.index(max(lrs)) == 25


def test_every_recipe_version_is_a_valid_config() -> None:
    from handwritten_digits.recipes import RECIPES, recipe_config
    for name, versions in RECIPES.items():
        for version in versions:
            recipe_config(f"{name}@{version}").validate()


def test_exp_schedule_decays_geometrically_to_its_end() -> None:
    from handwritten_digits.train import EXP_END
    config = TrainConfig(schedule="exp", lr=2.0)
    lrs = [lr_at(config, s, 100) for s in range(101)]
    assert lrs[0] == 2.0 and lrs[-1] == pytest.approx(2.0 * EXP_END)
    assert lrs[50] == pytest.approx(2.0 * EXP_END**0.5)
    assert all(a > b for a, b in zip(lrs, lrs[1:], strict=False))


def test_a_last_batch_of_one_image_is_left_out(tiny_dataset: Path, tmp_path: Path) -> None:
    from handwritten_digits.train import epoch_steps
    assert [epoch_steps(n, 64) for n in (0, 1, 64, 65, 66, 129)] == [0, 1, 1, 1, 2, 2]
    # simple-cnn's BatchNorm over the logits cannot train on one image: 65 images at batch 64 used to crash
    run = fit(_config(tiny_dataset, tmp_path / "r", model="simple-cnn", model_args={"kernel": 7},
                      epochs=1, limit_train=65, eval_test=False))
    assert read_metrics(run)[0]["epoch"] == 1


def _train_cmd(dataset: Path, out: Path, *extra: str, device: str = "cpu") -> list[str]:
    # CPU unless asked: a resumed run matches an uninterrupted one exactly there (cuDNN's kernels need not)
    return [sys.executable, "-m", "handwritten_digits", "train", "--model", "seed-cnn",
            "--dataset", str(dataset), "--epochs", "3", "--batch-size", "16", "--threads", "1",
            "--device", device, "--out", str(out), "--no-report", *extra]


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted(tmp_path: Path, tiny_dataset: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    full = tmp_path / "full"
    subprocess.run(_train_cmd(tiny_dataset, full), check=True, env=env, capture_output=True)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(tiny_dataset, killed), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (killed / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # well inside epoch 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(read_metrics(killed)) < 3, "the run finished before it could be killed"
    subprocess.run(_train_cmd(tiny_dataset, killed)[:-3] + ["--resume", str(killed)], check=True,
                   env=env, capture_output=True)
    assert read_metrics(killed) == [
        {**r, "epoch_time_s": k["epoch_time_s"], "train_time_s": k["train_time_s"],
         "images_per_s": k["images_per_s"]}
        for r, k in zip(read_metrics(full), read_metrics(killed), strict=True)
    ]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_run_resumes_on_the_gpu(tmp_path: Path, tiny_dataset: Path) -> None:
    # the optimizer's state is loaded after the model is on the GPU (before: Adam found its moments on
    # the CPU and stopped), and dropout's GPU random state comes back with the checkpoint
    run = fit(_config(tiny_dataset, tmp_path / "gpu", epochs=1, device="cuda"))
    assert "cuda_rng" in torch.load(run / "checkpoint.pt", weights_only=True)
    fit(_config(tiny_dataset, run, epochs=2, device="cuda"), resume=True)
    assert [r["epoch"] for r in read_metrics(run)] == [1, 2]


def test_the_optimizer_is_built_on_the_model_as_it_trains(tiny_dataset: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # the model reaches its device and memory format before the optimizer is built, so a resumed
    # optimizer's state lands where the parameters are (on a GPU, Adam stopped otherwise)
    import handwritten_digits.train as train
    built, real = [], train.build_optimizer

    def spy(config: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
        built.append(all(p.is_contiguous(memory_format=torch.channels_last)
                         for p in model.parameters() if p.dim() == 4))
        return real(config, model)
    monkeypatch.setattr(train, "build_optimizer", spy)
    fit(_config(tiny_dataset, tmp_path / "r", model="seed-cnn", epochs=1, device="cpu", channels_last=True),
        remember=False)
    assert built == [True]


def test_model_args_merge_into_the_recipe() -> None:
    from handwritten_digits.recipes import parse_model_args, recipe_config
    config = recipe_config("best", model_args=parse_model_args(["kernel=5", "width=24"]))
    assert config.model_args == {"width": 24, "dropout": 0.2, "kernel": 5}
    assert recipe_config("best", model="seed-cnn").model_args == {}



def test_bf16_only_where_the_device_computes_it(tiny_dataset: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import handwritten_digits.context as context

    fp32 = read_metrics(fit(_config(tiny_dataset, tmp_path / "fp32", epochs=1, device="cpu")))[0]
    monkeypatch.setattr(context, "native_bf16", lambda device: False)  # an AVX2-only CPU
    emulated = read_metrics(fit(_config(tiny_dataset, tmp_path / "a", epochs=1, precision="bf16",
                                        device="cpu")))[0]
    monkeypatch.setattr(context, "native_bf16", lambda device: True)
    native = fit(_config(tiny_dataset, tmp_path / "b", epochs=1, precision="bf16", device="cpu"))
    first = read_metrics(native)[0]
    assert [r["train_precision"] for r in (fp32, emulated, first)] == ["fp32", "fp32", "bf16"]
    assert emulated["train_loss"] == fp32["train_loss"]  # the fallback is plain fp32 ...
    assert first["train_loss"] != fp32["train_loss"]  # ... and autocast, where it runs, is bf16
    assert json.loads((native / "model.json").read_text())["metrics"]["train_precision"] == "bf16"
    # resumed on a device without native bf16, a run that began in bf16 goes on in bf16 (exactly)
    monkeypatch.setattr(context, "native_bf16", lambda device: False)
    resumed = fit(_config(tiny_dataset, native, epochs=2, precision="bf16", device="cpu"), resume=True)
    assert [r["train_precision"] for r in read_metrics(resumed)] == ["bf16", "bf16"]


def test_native_bf16_asks_the_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from handwritten_digits.context import native_bf16

    cpu = torch.device("cpu")
    for caps, native in (({"avx2": True}, False), ({"avx512_bf16": True}, True), ({"amx_bf16": True}, True)):
        monkeypatch.setattr(torch.cpu, "get_capabilities", lambda caps=caps: caps)
        assert native_bf16(cpu) is native
    asked = {}
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda **kw: asked.update(kw) or False)
    assert native_bf16(torch.device("cuda")) is False and asked == {"including_emulation": False}
