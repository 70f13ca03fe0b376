"""Multiscale k-planes encoding: per scale, the product of the three space planes' features, and for dynamic
scenes of three more space-time planes (xt, yt, zt)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from latent_atlas.encodings.planes import kplane_features, time_plane_features


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
    time_resolution: int = 0
    """Texels along time of the space-time planes (k-planes' time planes, initialised to 1: a static start);
    0: a static encoding without them."""


class KPlanesEncoding(nn.Module):
    """x [n, 3] in [0, 1]^3 (and times [n, 1] in [0, 1] with time planes) -> [n, features * len(multiscale)]."""

    def __init__(self, cfg: KPlanesConfig):
        super().__init__()
        self.cfg = cfg
        self.scales = nn.ParameterList(
            nn.Parameter(torch.empty(1, 3, cfg.features, cfg.base_resolution * m, cfg.base_resolution * m).uniform_(cfg.init_low, cfg.init_high))
            for m in cfg.multiscale
        )
        self.time_scales = nn.ParameterList(
            nn.Parameter(torch.ones(1, 3, cfg.features, cfg.time_resolution, cfg.base_resolution * m)) for m in cfg.multiscale if cfg.time_resolution > 0
        )

    @property
    def out_dim(self) -> int:
        return self.cfg.features * len(self.cfg.multiscale)

    def forward(self, x: Tensor, times: Tensor | None = None) -> Tensor:
        points = (x * 2.0 - 1.0)[None]
        features = kplane_features(list(self.scales), points)[0]
        if len(self.time_scales) == 0:
            return features
        if times is None:
            times = x.new_zeros(x.shape[0], 1)  # a static query of a dynamic encoding: the first frame
        t = (times.reshape(-1, 1) * 2.0 - 1.0)[None]
        in_time = torch.cat([time_plane_features(planes, points, t)[0] for planes in self.time_scales], dim=-1)
        return features * in_time
