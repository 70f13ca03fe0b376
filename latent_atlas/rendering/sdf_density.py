"""SDF to volume density (VolSDF, Yariv et al. 2021): sigma = (1 / beta) * Psi_beta(-sdf), pure functions."""

from __future__ import annotations

import torch
from torch import Tensor


def laplace_cdf(s: Tensor, beta: Tensor | float) -> Tensor:
    """CDF of the zero-mean Laplace distribution of scale beta at s [...]: 0.5 exp(s / beta) for s <= 0, else
    1 - 0.5 exp(-s / beta). Written with -|s| so that neither branch overflows."""
    half = 0.5 * torch.exp(-s.abs() / beta)
    return torch.where(s <= 0, half, 1.0 - half)


def volsdf_density(sdf: Tensor, beta: Tensor | float) -> Tensor:
    """VolSDF's density [...] of signed distances [...] (negative inside): alpha * Psi_beta(-sdf) with alpha = 1 / beta."""
    return laplace_cdf(-sdf, beta) / beta
