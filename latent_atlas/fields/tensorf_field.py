"""TensoRF VM field: density from summed VM features, appearance from VM features -> basis -> MLP."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latent_atlas.encodings.frequency import FrequencyEncoding
from latent_atlas.encodings.tensor_vm import upsample_vm, vm_features


@dataclass
class TensoRFFieldConfig:
    """Tensor components and the appearance decoder of TensoRF-VM."""

    density_components: int = 16
    """VM components per mode for density."""
    appearance_components: int = 48
    """VM components per mode for appearance."""
    appearance_dim: int = 27
    """Output of the appearance basis matrix (input of the colour MLP)."""
    feature_frequencies: int = 2
    """Positional-encoding octaves of the appearance features."""
    view_frequencies: int = 2
    """Positional-encoding octaves of the view direction."""
    mlp_width: int = 128
    """Hidden units of the colour MLP."""
    density_shift: float = -10.0
    """Added to the density feature before softplus (starts near empty)."""
    init_std: float = 0.1
    """Initial N(0, std^2) of the tensor components."""


class TensoRFField(nn.Module):
    """density(points [m, 3]) -> [m]; appearance(points [m, 3], directions [m, 3]) -> [m, C]."""

    def __init__(self, cfg: TensoRFFieldConfig, resolution: int, channels: int):
        super().__init__()
        self.cfg = cfg
        rd, ra, n = cfg.density_components, cfg.appearance_components, resolution
        self.density_planes = nn.Parameter(torch.randn(3, rd, n, n) * cfg.init_std)
        self.density_lines = nn.Parameter(torch.randn(3, rd, n, 1) * cfg.init_std)
        self.appearance_planes = nn.Parameter(torch.randn(3, ra, n, n) * cfg.init_std)
        self.appearance_lines = nn.Parameter(torch.randn(3, ra, n, 1) * cfg.init_std)
        self.basis = nn.Linear(3 * ra, cfg.appearance_dim, bias=False)
        self.feature_encoding = FrequencyEncoding(cfg.appearance_dim, cfg.feature_frequencies)
        self.view_encoding = FrequencyEncoding(3, cfg.view_frequencies)
        in_dim = self.feature_encoding.out_dim + self.view_encoding.out_dim
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, cfg.mlp_width), nn.ReLU(), nn.Linear(cfg.mlp_width, cfg.mlp_width), nn.ReLU(), nn.Linear(cfg.mlp_width, channels)
        )
        nn.init.constant_(self.mlp[-1].bias, 0.0)

    @property
    def resolution(self) -> int:
        return self.density_planes.shape[-1]

    def grids(self) -> list[nn.Parameter]:
        return [self.density_planes, self.density_lines, self.appearance_planes, self.appearance_lines]

    def density(self, points: Tensor) -> Tensor:
        """Density [m] at points [m, 3] in [-1, 1]."""
        features = vm_features(self.density_planes, self.density_lines, points).sum(dim=-1)
        return F.softplus(features + self.cfg.density_shift)

    def appearance(self, points: Tensor, directions: Tensor) -> Tensor:
        """Channels [m, C] in [0, 1] at points [m, 3] seen along directions [m, 3]."""
        features = self.basis(vm_features(self.appearance_planes, self.appearance_lines, points))
        return torch.sigmoid(self.mlp(torch.cat([self.feature_encoding(features), self.view_encoding(directions)], dim=-1)))

    @torch.no_grad()
    def upsample(self, resolution: int, lo: Tensor | None = None, hi: Tensor | None = None) -> None:
        """Resamples every tensor component to `resolution` texels over the sub-box lo..hi [3] of [-1, 1]^3 (default:
        all of it) (new Parameters: rebuild the optimisers)."""
        dp, dl = upsample_vm(self.density_planes.data, self.density_lines.data, resolution, lo, hi)
        ap, al = upsample_vm(self.appearance_planes.data, self.appearance_lines.data, resolution, lo, hi)
        self.density_planes, self.density_lines = nn.Parameter(dp), nn.Parameter(dl)
        self.appearance_planes, self.appearance_lines = nn.Parameter(ap), nn.Parameter(al)

    def density_l1(self) -> Tensor:
        """Mean absolute value of the density components (sparsity prior)."""
        return self.density_planes.abs().mean() + self.density_lines.abs().mean()
