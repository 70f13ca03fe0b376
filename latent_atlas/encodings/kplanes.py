"""Multiscale k-planes encoding (static scenes): per scale, the product of three plane features."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from latent_atlas.encodings.planes import kplane_features


@dataclass
class KPlanesConfig:
    """Multiscale planes."""

    base_resolution: int = 64
    """Plane side at the coarsest scale."""
    multiscale: tuple[int, ...] = (1, 2, 4)
    """Scale multipliers of the base resolution."""
    features: int = 32
    """Feature channels per plane."""
    init_low: float = 0.1
    """Planes start uniform in [init_low, init_high] (products stay away from zero)."""
    init_high: float = 0.5
    """See init_low."""


class KPlanesEncoding(nn.Module):
    """x [n, 3] in [0, 1]^3 -> [n, features * len(multiscale)]."""

    def __init__(self, cfg: KPlanesConfig):
        super().__init__()
        self.cfg = cfg
        self.scales = nn.ParameterList(
            nn.Parameter(torch.empty(1, 3, cfg.features, cfg.base_resolution * m, cfg.base_resolution * m).uniform_(cfg.init_low, cfg.init_high))
            for m in cfg.multiscale
        )

    @property
    def out_dim(self) -> int:
        return self.cfg.features * len(self.cfg.multiscale)

    def forward(self, x: Tensor) -> Tensor:
        return kplane_features(list(self.scales), (x * 2.0 - 1.0)[None])[0]
