"""EG3D-style Tri-Plane field: summed plane features -> small softplus decoder (no PE, no view direction)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latent_atlas.encodings.planes import triplane_features


@dataclass
class TriPlaneFieldConfig:
    """Tri-Plane field of IG-AE / Scaled-IG (DESIGN.md reference facts)."""

    plane_channels: int = 32
    """Feature channels per plane."""
    plane_resolution: int = 64
    """Plane side in texels."""
    reduction: Literal["sum", "product", "concat"] = "sum"
    """How the three planes' features combine: sum (EG3D), product or concat."""
    hidden: int = 64
    """Hidden units of the decoder."""
    init_std: float = 0.1
    """Planes start as N(0, init_std^2)."""


def decode_triplane(features: Tensor, decoder: nn.Sequential) -> tuple[Tensor, Tensor]:
    """Features [..., F] through make_decoder's MLP -> density softplus(sigma - 1) [...], colour sigmoid(x) * 1.002 -
    0.001 [..., C].

    The last layer runs as two products, density's row and the colour rows, so that both activations read contiguous
    memory: sigmoid on the strided colour columns of one [..., 1 + C] output took 3.7x as long (16 latent channels)."""
    hidden = decoder[1](decoder[0](features))
    last = decoder[2]
    density = F.softplus(F.linear(hidden, last.weight[:1], last.bias[:1] - 1.0)[..., 0])
    color = torch.sigmoid(F.linear(hidden, last.weight[1:], last.bias[1:])) * 1.002 - 0.001
    return density, color


def make_decoder(in_dim: int, hidden: int, channels: int) -> nn.Sequential:
    """Linear(in -> hidden) - Softplus - Linear(hidden -> 1 + C)."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.Softplus(), nn.Linear(hidden, 1 + channels))


class TriPlaneField(nn.Module):
    """positions [n, s, 3] in the box [-1, 1]^3 -> density [n, s], channels [n, s, C]."""

    def __init__(self, cfg: TriPlaneFieldConfig, channels: int):
        super().__init__()
        self.cfg = cfg
        r = cfg.plane_resolution
        self.planes = nn.Parameter(torch.randn(1, 3, cfg.plane_channels, r, r) * cfg.init_std)
        in_dim = cfg.plane_channels * (3 if cfg.reduction == "concat" else 1)
        self.decoder = make_decoder(in_dim, cfg.hidden, channels)

    def forward(self, positions: Tensor, directions: Tensor) -> tuple[Tensor, Tensor]:
        shape = positions.shape[:-1]
        features = triplane_features(self.planes, positions.reshape(1, -1, 3), self.cfg.reduction)[0]
        density, color = decode_triplane(features, self.decoder)
        return density.reshape(shape), color.reshape(*shape, -1)
