"""Regularisers of fields and sample weights: plane total variation, proposal interlevel and distortion losses."""

from __future__ import annotations

import torch
from torch import Tensor


def plane_tv(planes: Tensor) -> Tensor:
    """Total variation of planes [..., R, R]: mean squared difference of neighbouring texels."""
    dh = (planes[..., 1:, :] - planes[..., :-1, :]).pow(2).mean()
    dw = (planes[..., :, 1:] - planes[..., :, :-1]).pow(2).mean()
    return dh + dw


def outer_weights(edges: Tensor, proposal_edges: Tensor, proposal_weights: Tensor) -> Tensor:
    """Upper envelope [n, s]: for each bin of edges [n, s + 1], the proposal weight [n, p] of the bins overlapping it."""
    cumulative = torch.cat([torch.zeros_like(proposal_weights[:, :1]), torch.cumsum(proposal_weights, dim=-1)], dim=-1)
    count = torch.searchsorted(proposal_edges.contiguous(), edges.contiguous(), right=True)
    last = proposal_edges.shape[-1] - 1
    idx_lo = (count - 1).clamp(0, last)
    idx_hi = count.clamp(0, last)
    return cumulative.gather(-1, idx_hi[:, 1:]) - cumulative.gather(-1, idx_lo[:, :-1])


def interlevel_loss(edges: Tensor, weights: Tensor, proposals: list[tuple[Tensor, Tensor]], eps: float = 1e-7) -> Tensor:
    """mip-NeRF 360 proposal loss: final weights [n, s] above a proposal's envelope are penalised.

    proposals: (edges [n, p + 1], weights [n, p]) per proposal level; the final weights are not differentiated.
    """
    w = weights.detach()
    loss = weights.new_zeros(())
    for p_edges, p_weights in proposals:
        envelope = outer_weights(edges.detach(), p_edges.detach(), p_weights)
        loss = loss + (torch.clamp(w - envelope, min=0.0) ** 2 / (w + eps)).sum(dim=-1).mean()
    return loss


def distortion_loss(edges: Tensor, weights: Tensor) -> Tensor:
    """mip-NeRF 360 distortion loss of weights [n, s] over edges [n, s + 1] normalised to [0, 1] per ray.

    sum_ij w_i w_j |m_i - m_j| + 1/3 sum_i w_i^2 (t_{i+1} - t_i), computed in O(s) with prefix sums.
    """
    span = (edges[:, -1:] - edges[:, :1]).clamp_min(1e-9)
    s = (edges - edges[:, :1]) / span
    mids = 0.5 * (s[:, 1:] + s[:, :-1])
    widths = s[:, 1:] - s[:, :-1]
    w_cum = torch.cumsum(weights, dim=-1) - weights  # sum of weights before i
    wm_cum = torch.cumsum(weights * mids, dim=-1) - weights * mids
    pairwise = 2.0 * (weights * (mids * w_cum - wm_cum)).sum(dim=-1)
    self_term = (weights**2 * widths).sum(dim=-1) / 3.0
    return (pairwise + self_term).mean()


def eikonal(gradients: Tensor) -> Tensor:
    """Eikonal loss mean((|grad f| - 1)^2) of SDF gradients [..., 3]: zero for a true distance function."""
    return ((gradients.norm(dim=-1) - 1.0) ** 2).mean()


def time_smoothness(planes: Tensor) -> Tensor:
    """k-planes' smoothness along time of space-time planes [..., T, R]: mean squared second difference along T."""
    second = planes[..., 2:, :] - 2.0 * planes[..., 1:-1, :] + planes[..., :-2, :]
    return second.pow(2).mean() if second.numel() else planes.new_zeros(())
