"""Micro-macro planes (Scaled-IG / 3Da-AE): per-scene micro planes plus a per-scene mix of shared macro planes."""

from __future__ import annotations

import torch
from torch import Tensor

COMBINATIONS = ("concat", "sum")


def mix_macro(coefficients: Tensor, bias: Tensor, macro: Tensor) -> Tensor:
    """Per-scene planes sum_m W[b, m] * macro[m] + bias[b]: coefficients [B, M], bias [B, C], macro [M, 3, C, R, R] -> [B, 3, C, R, R]."""
    mixed = torch.einsum("bm,mpchw->bpchw", coefficients, macro)
    return mixed + bias[:, None, :, None, None]


def compose_planes(micro: Tensor, coefficients: Tensor, bias: Tensor, macro: Tensor, combination: str = "concat") -> Tensor:
    """Scene planes [B, 3, C, R, R] from micro planes [B, 3, Cm, R, R] and the macro mix ([B, 3, CM, R, R]).

    concat: channels Cm + CM (DESIGN.md: 10 + 22 = 32); sum: Cm must equal CM.
    """
    mixed = mix_macro(coefficients, bias, macro)
    if combination == "concat":
        return torch.cat([micro, mixed], dim=2)
    if combination == "sum":
        if micro.shape[2] != mixed.shape[2]:
            raise ValueError(f"sum needs as many micro as macro channels ({micro.shape[2]} vs {mixed.shape[2]})")
        return micro + mixed
    raise ValueError(f"unknown combination '{combination}' (choose from {', '.join(COMBINATIONS)})")
