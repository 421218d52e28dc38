"""Data-parallel training mechanics: two gloo processes on CPU, rank 0 writes, ranks shard the data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from handwritten_digits.context import Context, resolve_device
from handwritten_digits.errors import DigitsError
from handwritten_digits.train import read_metrics, shard_order


def test_shards_are_disjoint_and_cover_the_data() -> None:
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731 - same draw on every rank
    shards = [shard_order(101, gen(), Context(torch.device("cpu"), rank, 2)) for rank in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == 50
    assert not set(shards[0].tolist()) & set(shards[1].tolist())


def test_auto_gives_each_process_a_gpu_or_takes_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    gpus = {"n": 1}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus["n"] > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus["n"])
    assert resolve_device("auto", 1).type == "cuda"
    assert resolve_device("auto", 2).type == "cpu"  # nccl cannot put two processes on one GPU
    with pytest.raises(DigitsError, match="2 processes need a GPU each and this machine has 1"):
        resolve_device("cuda", 2)
    gpus["n"] = 2
    assert resolve_device("auto", 2).type == resolve_device("cuda", 2).type == "cuda"
    gpus["n"] = 0
    assert resolve_device("auto", 1).type == "cpu"
    with pytest.raises(DigitsError, match="no CUDA device"):
        resolve_device("cuda", 1)


@pytest.mark.slow
def test_two_process_gloo_training(tmp_path: Path, tiny_dataset: Path) -> None:
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
           "-m", "handwritten_digits.train", "--model", "seed-mlp", "--dataset", str(tiny_dataset),
           "--epochs", "2", "--batch-size", "32", "--threads", "1", "--device", "cpu", "--out", str(out),
           "--no-report"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    history = read_metrics(out)
    assert [r["epoch"] for r in history] == [1, 2]
    assert all(r["processes"] == 2 for r in history)
    assert history[-1]["val_acc"] > 0.9
    assert (out / "model.safetensors").is_file() and (out / "checkpoint.pt").is_file()


def test_too_few_gpus_for_nproc_is_one_line_before_torchrun(capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from handwritten_digits.cli import main
    cli_train = importlib.import_module("handwritten_digits.cli.train")  # the module, not its command
    launched = []
    monkeypatch.setattr(cli_train, "_torchrun", launched.append)
    for gpus, why in ((0, "no CUDA device"), (1, "2 processes need a GPU each and this machine has 1")):
        monkeypatch.setattr(torch.cuda, "is_available", lambda gpus=gpus: gpus > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda gpus=gpus: gpus)
        with pytest.raises(SystemExit) as e:
            main(["train", "--recipe", "fast", "--device", "cuda", "--nproc", "2"])
        err = capsys.readouterr().err
        assert e.value.code == 2 and why in err and len(err.strip().splitlines()) == 1
    assert launched == []
    main(["train", "--recipe", "fast", "--device", "cpu", "--nproc", "2"])
    assert launched == [2]
