"""Training: `fit(config)` trains a registered model and returns its run folder.

A run folder holds config.json (enough to reproduce the run), metrics.jsonl (one line per epoch),
model.safetensors/.json (best on validation), last.safetensors/.json (last epoch) and checkpoint.pt
(optimizer, schedule position, RNG states) so that `--resume` continues exactly where a killed run
stopped. Batch order and augmentation draw from generators seeded by (seed, epoch, rank), so a resumed
epoch replays bit for bit. Under torchrun each rank trains on its shard and only rank 0 writes.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from handwritten_digits.context import Context, setup_context
from handwritten_digits.data.datasets import Split, load_split
from handwritten_digits.errors import DigitsError
from handwritten_digits.evaluate import infer, prepare
from handwritten_digits.fileio import write_bytes, write_json
from handwritten_digits.modelio import latest_run_pointer, make_sidecar
from handwritten_digits.models import count_parameters, create_model, get_entry
from handwritten_digits.runs import (
    calibrate,
    default_run_dir,
    load_checkpoint,
    read_metrics,
    write_epoch,
)

log = logging.getLogger(__name__)

# The "exp" schedule decays geometrically to this fraction of the peak: the record ensemble's 0.98 per
# epoch over its 150 epochs, whatever the number of epochs.
EXP_END = 0.05


@dataclass
class TrainConfig:
    model: str = "seed-cnn"
    model_args: dict[str, Any] = field(default_factory=dict)
    dataset: str = "mnist"
    epochs: int = 5
    batch_size: int = 32  # images per step per process
    lr: float = 1e-3  # peak learning rate
    optimizer: str = "adam"  # adam | adamw | sgd (nesterov)
    weight_decay: float = 0.0
    schedule: str = "constant"  # constant | onecycle | cosine | exp
    warmup: float = 0.2  # fraction of all steps spent warming up (onecycle)
    label_smoothing: float = 0.0
    augment: str = "none"  # none | a policy name in augment.POLICIES
    flag: float = 0.0  # share of the 1s given a European flag, drawn before `augment` (augment.flag_ones)
    precision: str = "fp32"  # fp32 | bf16 (autocast where `native_bf16`; weights, optimizer stay fp32)
    channels_last: bool = True
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # torch intra-op threads; 0 = all cores
    limit_train: int = 0  # use only the first N training images (0 = all); for dry runs
    eval_test: bool = True  # report (never select on) test accuracy each epoch
    recipe: str | None = None
    recipe_version: int | None = None
    out: str | None = None

    def validate(self) -> None:
        checks = [
            (self.epochs >= 1, f"--epochs must be >= 1 (got {self.epochs})"),
            (self.batch_size >= 1, f"--batch-size must be >= 1 (got {self.batch_size})"),
            (self.lr > 0 and math.isfinite(self.lr), f"--lr must be > 0 (got {self.lr})"),
            (self.optimizer in ("adam", "adamw", "sgd"), f"unknown optimizer {self.optimizer!r}"),
            (self.schedule in ("constant", "onecycle", "cosine", "exp"),
             f"unknown schedule {self.schedule!r}"),
            (self.precision in ("fp32", "bf16"), f"unknown precision {self.precision!r}"),
            (0.0 <= self.label_smoothing < 1.0, "--label-smoothing must be in [0, 1)"),
            (0.0 <= self.warmup < 1.0, "--warmup must be in [0, 1)"),
            (0.0 <= self.flag <= 1.0, f"--flag must be in [0, 1] (got {self.flag})"),
            (self.device in ("auto", "cpu", "cuda"), f"unknown device {self.device!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise DigitsError(message)
        get_entry(self.model)
        if self.augment != "none":
            from handwritten_digits.augment import get_policy
            get_policy(self.augment)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


class Reporter(Protocol):
    def epoch_start(self, epoch: int, epochs: int, steps: int) -> None: ...
    def step(self, images: int, loss: float, correct: int) -> None: ...
    def epoch_end(self, record: dict[str, Any]) -> None: ...


class LogReporter:
    def epoch_start(self, epoch: int, epochs: int, steps: int) -> None:
        pass

    def step(self, images: int, loss: float, correct: int) -> None:
        pass

    def epoch_end(self, record: dict[str, Any]) -> None:
        log.info("epoch %d: %s", record["epoch"], record)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_generator(seed: int, epoch: int, rank: int = 0) -> torch.Generator:
    """A generator for one epoch's shuffling and augmentation, independent of what came before."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch * 1_009 + rank)


def lr_at(config: TrainConfig, step: int, total: int) -> float:
    """Learning rate after `step` of `total` optimizer steps."""
    if config.schedule == "constant":
        return config.lr
    frac = step / max(1, total)
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1 + math.cos(math.pi * frac))
    if config.schedule == "exp":
        return config.lr * EXP_END**frac
    # onecycle: linear warm-up from lr/25 to lr, then cosine-free linear decay to ~0 (airbench-like).
    w = config.warmup
    if frac < w:
        return config.lr * (0.04 + 0.96 * frac / w)
    return config.lr * max(0.0, (1 - frac) / (1 - w))


def build_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.dim() <= 1]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=0.9, nesterov=True)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    # Plain Adam as in Keras: weight_decay (if any) is L2 added to the gradient.
    return torch.optim.Adam(groups, lr=config.lr)


def epoch_steps(n: int, batch_size: int) -> int:
    """Batches in an epoch of `n` images. A last batch of one image is left out (another image each
    epoch) unless it is the only one: simple-cnn's BatchNorm over its (N, 10) logits cannot train on
    a single image."""
    return max(min(n, 1), n // batch_size if n % batch_size == 1 else math.ceil(n / batch_size))


def shard_order(n: int, gen: torch.Generator, ctx: Context) -> torch.Tensor:
    """This rank's shuffled indices; every rank draws the same permutation and takes a stride."""
    perm = torch.randperm(n, generator=gen)
    if ctx.world > 1:
        perm = perm[: n - n % ctx.world][ctx.rank:: ctx.world]
    return perm


def train_one_epoch(model: nn.Module, opt: torch.optim.Optimizer, config: TrainConfig,
                    data: tuple[torch.Tensor, torch.Tensor], epoch: int, step0: int, total: int,
                    ctx: Context, reporter: Reporter) -> dict[str, float]:
    """One pass over this rank's shard. `data` is (N,1,28,28) floats in [0, 1] and (N,) labels."""
    x_all, y_all = data
    entry = get_entry(config.model)
    mean, std = entry.mean, entry.std
    gen = epoch_generator(config.seed, epoch, ctx.rank)
    order = shard_order(len(y_all), gen, ctx)
    augment = None
    if config.augment != "none":
        from handwritten_digits.augment import get_policy
        augment = get_policy(config.augment)
    if config.flag:
        from handwritten_digits.augment import flag_ones
    steps = epoch_steps(len(order), config.batch_size)
    reporter.epoch_start(epoch, config.epochs, steps)
    model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    start = time.perf_counter()
    for i in range(steps):
        idx = order[i * config.batch_size:(i + 1) * config.batch_size]
        x, y = x_all[idx], y_all[idx]
        if config.flag:
            x = flag_ones(x, y, gen, config.flag)
        if augment is not None:
            x = augment(x, gen)
        if mean != 0.0 or std != 1.0:
            x = (x - mean) / std
        x, y = x.to(ctx.device, non_blocking=True), y.to(ctx.device, non_blocking=True)
        if config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        for group in opt.param_groups:
            group["lr"] = lr_at(config, step0 + i, total)
        with torch.autocast(ctx.device.type, torch.bfloat16, enabled=ctx.bf16):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        batch_correct = int((logits.argmax(1) == y).sum())
        loss_sum += loss.item() * len(y)
        correct += batch_correct
        seen += len(y)
        reporter.step(len(y), loss.item(), batch_correct)
    seconds = time.perf_counter() - start
    return {"train_loss": loss_sum / max(1, seen), "train_acc": correct / max(1, seen),
            "epoch_time_s": seconds, "images_per_s": seen * ctx.world / max(seconds, 1e-9),
            "train_precision": "bf16" if ctx.bf16 else "fp32"}


def eval_split(model: nn.Module, split: Split, entry_mean: float, entry_std: float,
               device: torch.device) -> tuple[float, float]:
    logits = infer(model, split.images, entry_mean, entry_std, device=device)
    loss = F.cross_entropy(logits, split.labels).item()
    acc = (logits.argmax(1) == split.labels).double().mean().item()
    return loss, acc


def _data_hashes(dataset: str) -> dict[str, str]:
    from handwritten_digits.data.sources import SPECS
    return dict(SPECS[dataset].md5) if dataset in SPECS else {}


def _load_data(config: TrainConfig) -> tuple[tuple[torch.Tensor, torch.Tensor], Split, Split | None]:
    train = load_split(config.dataset, "train")
    images, labels = train.images, train.labels
    if config.limit_train:
        images, labels = images[: config.limit_train], labels[: config.limit_train]
    # (N, 1, 28, 28) float32 in [0, 1]: batches are index slices of this one tensor; they are
    # augmented in [0, 1] (ink = 1, background = 0) and normalised afterwards.
    x = prepare(images, 0.0, 1.0)
    val = load_split(config.dataset, "val")
    test = load_split(config.dataset, "test") if config.eval_test else None
    return (x, labels), val, test


def fit(config: TrainConfig, reporter: Reporter | None = None, resume: bool = False,
        remember: bool = True) -> Path:
    """Train per `config` (resuming from `config.out` when `resume`); return the run folder.

    `remember` records the run as the latest one, the default model until one ships with the package.
    """
    config.validate()
    reporter = reporter or LogReporter()
    ctx = setup_context(config)
    run = Path(config.out) if config.out else default_run_dir(config.recipe or config.model, config.seed)
    entry = get_entry(config.model)
    seed_everything(config.seed)
    model = create_model(config.model, **config.model_args).to(ctx.device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    data, val, test = _load_data(config)
    opt = build_optimizer(config, model)  # after the move: a resumed optimizer's state follows its params
    history: list[dict[str, Any]] = []
    state: dict[str, Any] = {"epoch": 0, "best_val_acc": -1.0, "train_time_s": 0.0}
    if resume:
        ckpt = load_checkpoint(run)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        torch.set_rng_state(ckpt["torch_rng"])
        if ctx.device.type == "cuda" and "cuda_rng" in ckpt:  # dropout's masks are drawn on the GPU
            torch.cuda.set_rng_state(ckpt["cuda_rng"], ctx.device)
        state = dict(ckpt["state"])
        history = [r for r in read_metrics(run) if r["epoch"] <= state["epoch"]]
        ran = history[-1].get("train_precision") if history else None
        if ran is not None and (ran == "bf16") != ctx.bf16:  # resumed on other hardware: go on exactly
            log.warning("resuming in %s, as the run began, though this device would choose otherwise", ran)
            ctx.bf16 = ran == "bf16"
    elif ctx.is_main:
        if (run / "checkpoint.pt").exists():
            raise DigitsError(f"{run}: already holds a run; use --resume {run} or another --out")
        run.mkdir(parents=True, exist_ok=True)
        write_json(run / "config.json", asdict(config))
    net = nn.parallel.DistributedDataParallel(model) if ctx.world > 1 else model
    steps_per_epoch = epoch_steps(len(shard_order(len(data[1]), torch.Generator(), ctx)),
                                  config.batch_size)
    total = steps_per_epoch * config.epochs
    sidecar_base = make_sidecar(
        config.model, config.model_args, list(val.class_names), dataset=config.dataset,
        recipe=config.recipe, seed=config.seed, parameters=count_parameters(model),
        data_hashes=_data_hashes(config.dataset), train_config=asdict(config))
    for epoch in range(state["epoch"] + 1, config.epochs + 1):
        record = train_one_epoch(net, opt, config, data, epoch, (epoch - 1) * steps_per_epoch,
                                 total, ctx, reporter)
        state["train_time_s"] += record["epoch_time_s"]
        record = {"epoch": epoch, **record, "train_time_s": state["train_time_s"],
                  "lr": opt.param_groups[0]["lr"], "processes": ctx.world}
        record["val_loss"], record["val_acc"] = eval_split(model, val, entry.mean, entry.std,
                                                           ctx.device)
        if test is not None:
            record["test_loss"], record["test_acc"] = eval_split(model, test, entry.mean,
                                                                 entry.std, ctx.device)
        history.append(record)
        state["epoch"] = epoch
        if ctx.is_main:
            write_epoch(run, config.recipe or config.model, model, opt, state, history, record, sidecar_base)
        reporter.epoch_end(record)
    if ctx.is_main:
        calibrate(run / "model.safetensors")
        if remember:
            write_bytes(latest_run_pointer(), (str(run.resolve()) + "\n").encode())
    if ctx.world > 1:
        dist.barrier()
    return run


if __name__ == "__main__":  # torchrun --nproc-per-node N -m handwritten_digits.train ...
    from handwritten_digits.cli import main

    main(["train", *__import__("sys").argv[1:]])
