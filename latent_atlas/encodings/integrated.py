"""mip-NeRF's integrated positional encoding (Barron et al. 2021): each sample interval along a ray is a conical
(or cylindrical) frustum around the pixel's footprint, approximated by a Gaussian, and encoded by the expected
sin/cos of its points. Pure functions."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

Footprint = Literal["cone", "cylinder"]

PIXEL_RADIUS = 2.0 / math.sqrt(12.0)
"""A pixel's footprint radius in pixel units (the radius whose disk has the square pixel's variance)."""


def frustum_gaussians(origins: Tensor, directions: Tensor, edges: Tensor, radii: Tensor, footprint: Footprint) -> tuple[Tensor, Tensor]:
    """Means and diagonal variances [n, s, 3] of the frustums between edges [n, s + 1] along rays (origins,
    directions [n, 3]) whose radius grows by radii [n, 1] per unit distance (a cone) or stays radii (a cylinder)."""
    t0, t1 = edges[:, :-1], edges[:, 1:]
    if footprint == "cone":
        mid, half = (t0 + t1) / 2, (t1 - t0) / 2
        denom = 3 * mid**2 + half**2
        t_mean = mid + 2 * mid * half**2 / denom
        t_var = half**2 / 3 - (4 / 15) * (half**4 * (12 * mid**2 - half**2)) / denom**2
        r_var = radii**2 * (mid**2 / 4 + (5 / 12) * half**2 - (4 / 15) * half**4 / denom)
    else:
        t_mean, t_var = (t0 + t1) / 2, (t1 - t0) ** 2 / 12
        r_var = (radii**2 / 4).expand_as(t_mean)
    d = directions[:, None, :]
    d2 = d**2
    along = d2 / d2.sum(-1, keepdim=True).clamp_min(1e-10)
    means = origins[:, None, :] + d * t_mean[..., None]
    variances = t_var[..., None] * d2 + r_var[..., None] * (1 - along)
    return means, variances


def integrated_positional_encoding(means: Tensor, variances: Tensor, n_frequencies: int) -> Tensor:
    """E[sin(2^l x)], E[cos(2^l x)] of x ~ N(means, diag(variances)) [..., D], l < n_frequencies:
    sin(2^l mu) exp(-4^l var / 2), ...: [..., 2 * D * n_frequencies] (the variance damps the high frequencies)."""
    scales = 2.0 ** torch.arange(n_frequencies, device=means.device, dtype=means.dtype)
    scaled_mean = (means[..., None, :] * scales[:, None]).flatten(-2)
    scaled_var = (variances[..., None, :] * scales[:, None] ** 2).flatten(-2)
    damping = torch.exp(-0.5 * scaled_var)
    return torch.cat([torch.sin(scaled_mean) * damping, torch.cos(scaled_mean) * damping], dim=-1)
