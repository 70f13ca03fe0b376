"""Data parallelism over processes (torchrun): gloo on CPU, NCCL on GPU.

Every rank draws the same global batch of scenes (same seed) and renders its own slice;
gradients are averaged over ranks, so every rank takes the same optimiser step and the
parameters stay identical (equal to one process rendering the whole batch, up to the order of
floating-point sums). Rank 0 writes checkpoints, logs and the summary; every rank resumes from them.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def world() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) when not launched by torchrun."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device: torch.device) -> tuple[int, int]:
    """Joins the process group torchrun describes in the environment (no-op for a single process)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return world()


def rank_slice(count: int, rank: int, world_size: int) -> slice:
    """This rank's contiguous part of `count` items (the first ranks take one more when it does not divide)."""
    base, extra = divmod(count, world_size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))


def average_gradients(modules: list[nn.Module], weight: float) -> None:
    """Sums every parameter gradient over ranks, scaled by `weight` (this rank's share of the batch, applied
    before the sum); parameters without a gradient take part as zeros so that every rank calls the same reductions."""
    _, world_size = world()
    if world_size == 1:
        return
    for module in modules:
        for p in module.parameters():
            if not p.requires_grad:
                continue
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            p.grad.mul_(weight)
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
