"""Adam as every task builds it: torch's fused kernel where the parameters' device has one."""

from __future__ import annotations

from collections.abc import Iterable

import torch

FUSED_DEVICES = ("cpu", "cuda")
"""Device types whose fused Adam torch 2.13 provides (one kernel over all tensors of a group)."""


def fused_supported(params: list[torch.Tensor]) -> bool:
    """Whether fused Adam can step these parameters: floating point, all on one device type that has it."""
    kinds = {p.device.type for p in params}
    return len(kinds) == 1 and kinds <= set(FUSED_DEVICES) and all(p.is_floating_point() for p in params)


def adam(
    params: Iterable[torch.Tensor], lr: float, eps: float = 1e-8, betas: tuple[float, float] = (0.9, 0.999), weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """Adam (AdamW with weight decay) over `params`, fused where supported: the same update to float rounding (1e-7);
    a step over 48 conv-sized tensors (the slim decoder has ~100) 3.5x faster on a 2-core CPU than torch's default
    per-tensor loop (BENCHMARKS.md, session 52)."""
    params = list(params)
    cls = torch.optim.AdamW if weight_decay > 0 else torch.optim.Adam
    fused = bool(params) and fused_supported(params)
    return cls(params, lr=lr, eps=eps, betas=betas, weight_decay=weight_decay, fused=fused or None)
