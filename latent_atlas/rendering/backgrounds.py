"""Background colours: white, black, or random per ray (per training step)."""

from __future__ import annotations

import torch
from torch import Tensor

BACKGROUNDS = ("white", "black", "random")


def background_colors(mode: str, n: int, channels: int = 3, generator: torch.Generator | None = None, device="cpu") -> Tensor:
    """Background colour per ray [n, channels] for `mode` (random draws a colour per ray)."""
    if mode == "white":
        return torch.ones(n, channels, device=device)
    if mode == "black":
        return torch.zeros(n, channels, device=device)
    if mode == "random":
        return torch.rand(n, channels, generator=generator).to(device)
    raise ValueError(f"unknown background '{mode}' (choose from {', '.join(BACKGROUNDS)})")


def eval_background(mode: str) -> str:
    """The fixed background used for evaluation: random backgrounds are evaluated on white."""
    return "white" if mode == "random" else mode
