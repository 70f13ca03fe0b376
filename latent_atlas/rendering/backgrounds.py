"""Background colours: white, black, random per ray (per training step), or learned (a small MLP on the ray
direction, trained with the field; images with alpha are then composited on white for its targets)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from latent_atlas.encodings.spherical_harmonics import spherical_harmonics
from latent_atlas.fields.mlp import MLP

BACKGROUNDS = ("white", "black", "random", "learned")


def background_colors(mode: str, n: int, channels: int = 3, generator: torch.Generator | None = None, device="cpu") -> Tensor:
    """Background colour per ray [n, channels] for `mode` (random draws a colour per ray)."""
    if mode in ("white", "learned"):  # learned: its targets are composited on white
        return torch.ones(n, channels, device=device)
    if mode == "black":
        return torch.zeros(n, channels, device=device)
    if mode == "random":
        return torch.rand(n, channels, generator=generator).to(device)
    raise ValueError(f"unknown background '{mode}' (choose from {', '.join(BACKGROUNDS)})")


def eval_background(mode: str) -> str:
    """The fixed background used for evaluation: random and learned backgrounds are evaluated on white."""
    return "white" if mode in ("random", "learned") else mode


class LearnedBackground(nn.Module):
    """directions [n, 3] (unit) -> background values [n, C] in [0, 1]: degree-4 spherical harmonics into a 2x64
    MLP (NeRF Atlas's learned background; what is seen beyond the scene box in that direction)."""

    def __init__(self, channels: int, width: int = 64):
        super().__init__()
        self.mlp = MLP(16, width, 2, channels)

    def forward(self, directions: Tensor) -> Tensor:
        return torch.sigmoid(self.mlp(spherical_harmonics(directions)))
