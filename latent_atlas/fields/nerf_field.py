"""The NeRF MLP field: encoded position -> density and features; + encoded direction -> colour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from latent_atlas.encodings.frequency import FrequencyEncoding, GaussianFourierEncoding
from latent_atlas.encodings.hash_grid import HashGridConfig, HashGridEncoding
from latent_atlas.encodings.integrated import integrated_positional_encoding
from latent_atlas.fields.mlp import MLP, SirenMLP


@dataclass
class NeRFFieldConfig:
    """Architecture of a NeRF MLP field."""

    width: int = 256
    """Hidden units of the trunk MLP."""
    depth: int = 8
    """Hidden layers of the trunk MLP."""
    skips: tuple[int, ...] = (4,)
    """Trunk layers that receive the encoded position again."""
    position_encoding: Literal["positional", "fourier", "siren", "hash"] = "positional"
    """How positions enter the trunk: positional (NeRF's sin/cos octaves), fourier (Gaussian random Fourier
    features, --model.field.fourier-scale), siren (raw positions into sine layers with SIREN's init; no skips) or
    hash (a multiresolution hash grid over the scene box [-1, 1]^3, --model.field.hash-levels)."""
    position_frequencies: int = 10
    """Octaves of the positional encoding of x."""
    fourier_features: int = 128
    """Number of Gaussian Fourier features (the encoding has twice as many values: sin and cos)."""
    fourier_scale: float = 4.0
    """Standard deviation of the Fourier features' frequencies (higher: finer detail, more noise)."""
    siren_omega: float = 30.0
    """SIREN's frequency factor omega_0."""
    hash_levels: int = 8
    """Levels of the hash grid encoder (2 features each)."""
    hash_log2_size: int = 15
    """log2 of the hash table size per level."""
    hash_max_resolution: int = 256
    """Finest grid resolution of the hash encoder (the coarsest is 16)."""
    direction_frequencies: int = 4
    """Octaves of the encoding of the view direction."""
    view_dependent: bool = True
    """Whether the colour depends on the view direction."""
    head_width: int = 128
    """Hidden units of the colour head."""


class BoxHashEncoding(nn.Module):
    """A hash grid over the scene box: positions [..., 3] in [-1, 1]^3 -> features [..., levels * 2]."""

    def __init__(self, grid: HashGridConfig):
        super().__init__()
        self.grid = HashGridEncoding(grid)
        self.out_dim = self.grid.out_dim

    def forward(self, positions: Tensor) -> Tensor:
        flat = ((positions.reshape(-1, 3) + 1.0) / 2.0).clamp(0.0, 1.0)
        return self.grid(flat).reshape(*positions.shape[:-1], self.out_dim)


class NeRFField(nn.Module):
    """positions [..., 3], directions [..., 3] -> density [...], channels [..., C] in [0, 1]."""

    def __init__(self, config: NeRFFieldConfig, channels: int = 3, integrated: bool = False):
        super().__init__()
        self.config = config
        self.integrated = integrated
        """mip-NeRF: positions arrive as interval Gaussians [..., 6] (means, variances), encoded by their expected sin/cos."""
        if integrated:
            self.position_encoding = lambda gaussians: integrated_positional_encoding(gaussians[..., :3], gaussians[..., 3:], config.position_frequencies)
            self.trunk = MLP(6 * config.position_frequencies, config.width, config.depth, 0, skips=config.skips)
        elif config.position_encoding == "siren":
            self.position_encoding = nn.Identity()
            self.trunk = SirenMLP(3, config.width, config.depth, config.siren_omega)
        else:
            if config.position_encoding == "fourier":
                self.position_encoding = GaussianFourierEncoding(3, config.fourier_features, config.fourier_scale)
            elif config.position_encoding == "hash":
                grid = HashGridConfig(n_levels=config.hash_levels, log2_hashmap_size=config.hash_log2_size, max_resolution=config.hash_max_resolution)
                self.position_encoding = BoxHashEncoding(grid)
            else:
                self.position_encoding = FrequencyEncoding(3, config.position_frequencies)
            self.trunk = MLP(self.position_encoding.out_dim, config.width, config.depth, 0, skips=config.skips)
        self.density_head = nn.Linear(config.width, 1)
        head_in = config.width
        if config.view_dependent:
            self.direction_encoding = FrequencyEncoding(3, config.direction_frequencies)
            head_in += self.direction_encoding.out_dim
        self.feature = nn.Linear(config.width, config.width)
        self.color_head = MLP(head_in, config.head_width, 1, channels)

    def forward(self, positions: Tensor, directions: Tensor) -> tuple[Tensor, Tensor]:
        h = self.trunk(self.position_encoding(positions))
        density = torch.nn.functional.softplus(self.density_head(h)[..., 0] - 1.0)
        features = self.feature(h)
        if self.config.view_dependent:
            features = torch.cat([features, self.direction_encoding(directions)], dim=-1)
        color = torch.sigmoid(self.color_head(features))
        return density, color
