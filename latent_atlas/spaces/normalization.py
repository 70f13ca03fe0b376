"""Latent normalisation of DESIGN.md: raw VAE latents z <-> targets in [0, 1]."""

from __future__ import annotations

import torch
from torch import Tensor

LATENT_SCALE = 0.02
"""z is squashed by tanh(0.02 z)."""
CLAMP = 1.0 - 1e-4
"""2x - 1 is clamped to +-(1 - 1e-4) before atanh, so the inverse stays finite."""


def normalize_latent(z: Tensor) -> Tensor:
    """Raw latents z [...] -> (tanh(0.02 z) + 1) / 2 in [0, 1] [...]."""
    return (torch.tanh(LATENT_SCALE * z) + 1.0) * 0.5


def denormalize_latent(x: Tensor) -> Tensor:
    """Inverse of normalize_latent: x [...] in [0, 1] -> raw z [...] (atanh of the clamped 2x - 1, / 0.02)."""
    return torch.atanh((2.0 * x - 1.0).clamp(-CLAMP, CLAMP)) / LATENT_SCALE
