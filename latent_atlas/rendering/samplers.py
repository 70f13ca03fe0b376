"""Sampling distances along rays, as bin edges: stratified and importance (inverse-CDF) sampling."""

from __future__ import annotations

import torch
from torch import Tensor


def stratified_edges(near: Tensor, far: Tensor, n_samples: int, perturb: bool, generator: torch.Generator | None = None) -> Tensor:
    """Bin edges [n, n_samples + 1] evenly spaced between near [n, 1] and far [n, 1].

    With `perturb`, each inner edge moves uniformly within its neighbourhood
    (jittered stratification); the first and last edges stay at near and far.
    """
    u = torch.linspace(0.0, 1.0, n_samples + 1, device=near.device)
    edges = near + (far - near) * u
    if perturb:
        mids = 0.5 * (edges[:, 1:] + edges[:, :-1])
        lower = torch.cat([edges[:, :1], mids], dim=-1)
        upper = torch.cat([mids, edges[:, -1:]], dim=-1)
        jitter = torch.rand(edges.shape, device=near.device, generator=generator)
        edges = lower + (upper - lower) * jitter
        edges[:, 0], edges[:, -1] = near[:, 0], far[:, 0]
    return edges


def pdf_samples(edges: Tensor, weights: Tensor, n_samples: int, perturb: bool, generator: torch.Generator | None = None, eps: float = 1e-5) -> Tensor:
    """Importance samples [n, n_samples] drawn from the piecewise-constant PDF of weights [n, s] over edges [n, s + 1]."""
    weights = weights.detach() + eps
    pdf = weights / weights.sum(dim=-1, keepdim=True)
    cdf = torch.cat([torch.zeros_like(pdf[:, :1]), torch.cumsum(pdf, dim=-1)], dim=-1).clamp_max(1.0)
    if perturb:
        u = torch.rand(cdf.shape[0], n_samples, device=cdf.device, generator=generator)
    else:
        u = torch.linspace(0.0, 1.0, n_samples + 2, device=cdf.device)[1:-1].expand(cdf.shape[0], n_samples)
    u = u.contiguous()
    upper = torch.searchsorted(cdf, u, right=True).clamp(1, cdf.shape[-1] - 1)
    lower = upper - 1
    cdf_lo, cdf_hi = cdf.gather(-1, lower), cdf.gather(-1, upper)
    edge_lo, edge_hi = edges.gather(-1, lower), edges.gather(-1, upper)
    span = torch.where(cdf_hi - cdf_lo < eps, torch.ones_like(cdf_lo), cdf_hi - cdf_lo)
    return edge_lo + (u - cdf_lo) / span * (edge_hi - edge_lo)


def merge_edges(edges: Tensor, extra: Tensor) -> Tensor:
    """Sorted union of bin edges [n, a] and extra distances [n, b] -> [n, a + b]."""
    merged, _ = torch.sort(torch.cat([edges, extra.detach()], dim=-1), dim=-1)
    return merged


def sample_points(origins: Tensor, directions: Tensor, edges: Tensor) -> tuple[Tensor, Tensor]:
    """Bin midpoints: positions [n, s, 3] and distances [n, s] for rays [n, 3] and edges [n, s + 1]."""
    t_mid = 0.5 * (edges[:, 1:] + edges[:, :-1])
    positions = origins[:, None, :] + directions[:, None, :] * t_mid[..., None]
    return positions, t_mid


def spacing_lindisp(t: Tensor) -> Tensor:
    """Piecewise spacing of unbounded scenes: s = t/2 below 1, 1 - 1/(2t) beyond (t >= 0 -> s in [0, 1))."""
    return torch.where(t < 1.0, t / 2.0, 1.0 - 1.0 / (2.0 * t.clamp_min(1e-9)))


def spacing_lindisp_inverse(s: Tensor) -> Tensor:
    """Inverse of spacing_lindisp."""
    return torch.where(s < 0.5, 2.0 * s, 1.0 / (2.0 * (1.0 - s).clamp_min(1e-9)))


def lindisp_edges(near: Tensor, far: Tensor, n_samples: int, perturb: bool) -> Tensor:
    """Bin edges [n, n_samples + 1]: linear in t up to 1, linear in disparity beyond (unbounded scenes)."""
    s = stratified_edges(spacing_lindisp(near), spacing_lindisp(far), n_samples, perturb)
    return spacing_lindisp_inverse(s)
