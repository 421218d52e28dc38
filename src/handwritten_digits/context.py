"""Where a training process runs: its device, its rank under torchrun, and whether it trains in bf16.

Resolved once per process (`setup_context`) from the run's config; `train.fit` only reads it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist

from handwritten_digits.errors import DigitsError

if TYPE_CHECKING:
    from handwritten_digits.train import TrainConfig

log = logging.getLogger(__name__)


@dataclass
class Context:
    """Process-level facts resolved once: device and distributed rank."""

    device: torch.device
    rank: int = 0
    world: int = 1
    bf16: bool = False  # train under bf16 autocast

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(name: str, world: int = 1) -> torch.device:
    """`auto` is CUDA where every one of the `world` processes gets a GPU of its own, else the CPU
    (two processes cannot share one GPU under nccl: the second asks for a cuda:1 that is not there)."""
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if name == "auto":
        return torch.device("cuda" if gpus >= max(world, 1) else "cpu")
    if name == "cuda" and not gpus:
        raise DigitsError("--device cuda: no CUDA device is available here; use --device cpu")
    if name == "cuda" and gpus < world:
        raise DigitsError(f"--device cuda: {world} processes need a GPU each and this machine has {gpus}; "
                          f"use --nproc {gpus} or --device cpu")
    return torch.device(name)


def setup_context(config: TrainConfig) -> Context:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_WORLD_SIZE", world))  # the processes on this machine, a GPU each
    device = resolve_device(config.device, local)
    if config.device == "auto" and device.type == "cpu" and torch.cuda.is_available() and is_main_process():
        log.warning("%d processes, %d GPU(s): training on the CPU", local, torch.cuda.device_count())
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if config.threads:
        torch.set_num_threads(config.threads)
    bf16 = config.precision == "bf16" and native_bf16(device)
    if config.precision == "bf16" and not bf16 and rank == 0:
        log.warning("this %s does not compute bf16 natively: training in fp32, many times faster here "
                    "than emulated bf16", "GPU" if device.type == "cuda" else "CPU (no AVX512-BF16 or AMX)")
    return Context(device, rank, world, bf16)


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 in hardware. A CPU without AVX512-BF16 or AMX emulates bf16
    autocast about ten times slower than fp32 (the fast recipe on a 2-core AVX2 CPU: 169 s against 18 s)."""
    if device.type == "cuda":  # by default this also counts a GPU that emulates bf16 (before Ampere)
        return torch.cuda.is_bf16_supported(including_emulation=False)
    caps = torch.cpu.get_capabilities()
    return bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))


def is_main_process() -> bool:
    """Rank 0 of a torchrun job, or a plain single process."""
    return int(os.environ.get("RANK", "0")) == 0
