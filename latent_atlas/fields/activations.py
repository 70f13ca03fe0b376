"""Activations used by density heads."""

from __future__ import annotations

import torch
from torch import Tensor


class _TruncExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return torch.exp(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return grad * torch.exp(x.clamp(max=15.0))


def trunc_exp(x: Tensor) -> Tensor:
    """exp(x) whose gradient uses exp(min(x, 15)), which keeps density heads stable (instant-ngp)."""
    return _TruncExp.apply(x)
