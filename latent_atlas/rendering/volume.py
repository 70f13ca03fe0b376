"""Volume rendering of any number of channels: weights, accumulation, depth, compositing."""

from __future__ import annotations

import torch
from torch import Tensor

from latent_atlas.backends import accelerated


@accelerated(auto=False)  # compiled on CUDA, tensorf ran at 0.83x the reference's steps/s
def render_weights(densities: Tensor, deltas: Tensor) -> Tensor:
    """Weights [n, s] = T_i (1 - exp(-sigma_i delta_i)) for densities, deltas [n, s]."""
    optical = densities * deltas
    alpha = 1.0 - torch.exp(-optical)
    # exclusive cumulative sum of optical depth gives transmittance before each sample
    transmittance = torch.exp(-torch.cat([torch.zeros_like(optical[:, :1]), torch.cumsum(optical, dim=-1)[:, :-1]], dim=-1))
    return alpha * transmittance


def composite(weights: Tensor, values: Tensor) -> Tensor:
    """Weighted sum along the ray: weights [n, s], values [n, s, C] -> [n, C]."""
    return torch.einsum("ns,nsc->nc", weights, values)


def accumulation(weights: Tensor) -> Tensor:
    """Opacity of each ray: [n, 1]."""
    return weights.sum(dim=-1, keepdim=True)


def expected_depth(weights: Tensor, t_mid: Tensor, far: Tensor) -> Tensor:
    """Expected ray distance [n, 1], with the remaining transmittance placed at `far` [n, 1]."""
    acc = accumulation(weights)
    return (weights * t_mid).sum(dim=-1, keepdim=True) + (1.0 - acc).clamp_min(0.0) * far


def add_background(color: Tensor, acc: Tensor, background: Tensor) -> Tensor:
    """Composites a rendered colour [n, C] with opacity [n, 1] over background [n, C] or [C]."""
    return color + (1.0 - acc) * background


def render_outputs(weights: Tensor, values: Tensor, t_mid: Tensor, far: Tensor, background: Tensor) -> dict[str, Tensor]:
    """What every renderer returns: color [n, C] over the background, acc [n, 1], depth [n, 1], weights [n, s]."""
    acc = accumulation(weights)
    return {
        "color": add_background(composite(weights, values), acc, background),
        "acc": acc,
        "depth": expected_depth(weights, t_mid, far),
        "weights": weights,
    }
