"""Data parallelism over processes (torchrun): gloo on CPU, NCCL on GPU.

Two ways to split the work (MultiSceneConfig.parallel):
- data: every rank holds every scene and draws the same global batch of scenes (same seed), renders
  its own slice, and gradients are averaged over ranks, so every rank takes the same optimiser step
  and the parameters stay identical (equal to one process rendering the whole batch, up to the order
  of floating-point sums). Rank 0 writes checkpoints; every rank resumes from them.
- scenes: each rank owns a contiguous shard of the scenes (their planes and optimiser state) and
  draws its batches from it; only the shared parts' gradients are averaged. Each rank writes its
  shard's checkpoint, then rank 0 the shared one, which marks the step complete.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

TIMEOUT_ENV = "LATLAS_DIST_TIMEOUT"
"""Seconds a collective waits for the other ranks before failing (default 1800)."""


def world() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) when not launched by torchrun."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device: torch.device) -> tuple[int, int]:
    """Joins the process group torchrun describes in the environment (no-op for a single process)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        # a rank that dies makes the others fail within this time (torchrun then restarts them all)
        timeout = timedelta(seconds=float(os.environ.get(TIMEOUT_ENV, "1800")))
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timeout)
    return world()


def rank_slice(count: int, rank: int, world_size: int) -> slice:
    """This rank's contiguous part of `count` items (the first ranks take one more when it does not divide)."""
    base, extra = divmod(count, world_size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))


def average_gradients(params: Iterable[nn.Parameter], weight: float) -> None:
    """Sums the gradients of `params` over ranks, scaled by `weight` (this rank's share of the batch, applied
    before the sum); parameters without a gradient take part as zeros so that every rank calls the same reductions."""
    _, world_size = world()
    if world_size == 1:
        return
    for p in params:
        if not p.requires_grad:
            continue
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        elif p.grad.is_sparse:  # ranks hold different rows: reduce them densely
            p.grad = p.grad.to_dense()
        p.grad.mul_(weight)
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)


def all_reduce_int(value: int, op: str = "sum") -> int:
    """`value` summed (op sum) or minimised (op min) over ranks; itself in a single process."""
    if world()[1] == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.long)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MIN)
    return int(tensor.item())


def gather_objects(value: Any) -> list[Any]:
    """Every rank's `value`, in rank order ([value] in a single process)."""
    if world()[1] == 1:
        return [value]
    out: list[Any] = [None] * world()[1]
    dist.all_gather_object(out, value)
    return out
