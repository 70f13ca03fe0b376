"""Proposal sampling (mip-NeRF 360 / nerfacto): re-binning by PDF, interlevel and distortion losses."""

from __future__ import annotations

import torch
from torch import Tensor

from latent_atlas.losses.regularisers import distortion_loss, interlevel_loss, outer_weights  # noqa: F401  (re-exported)


def pdf_edges(edges: Tensor, weights: Tensor, n_bins: int, perturb: bool, eps: float = 1e-5) -> Tensor:
    """New bin edges [n, n_bins + 1] placed by inverting the CDF of weights [n, s] over edges [n, s + 1].

    The first and last edges stay at the ends of the range.
    """
    weights = weights.detach() + eps
    cdf = torch.cumsum(weights / weights.sum(dim=-1, keepdim=True), dim=-1)
    cdf = torch.cat([torch.zeros_like(cdf[:, :1]), cdf], dim=-1).clamp_max(1.0)
    u = torch.linspace(0.0, 1.0, n_bins + 1, device=edges.device).expand(edges.shape[0], n_bins + 1)
    if perturb:
        jitter = (torch.rand(edges.shape[0], 1, device=edges.device) - 0.5) / n_bins
        u = (u + jitter).clamp(0.0, 1.0)
    u = u.contiguous()
    upper = torch.searchsorted(cdf, u, right=True).clamp(1, cdf.shape[-1] - 1)
    lower = upper - 1
    c0, c1 = cdf.gather(-1, lower), cdf.gather(-1, upper)
    e0, e1 = edges.gather(-1, lower), edges.gather(-1, upper)
    frac = ((u - c0) / (c1 - c0).clamp_min(1e-12)).clamp(0.0, 1.0)
    new = e0 + frac * (e1 - e0)
    new[:, 0], new[:, -1] = edges[:, 0], edges[:, -1]
    return torch.sort(new, dim=-1).values.detach()
