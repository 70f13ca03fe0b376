"""Grid field (instant-ngp, nerfacto, k-planes): grid encoding -> density MLP (+ geometry features)
-> colour MLP with SH view encoding and an optional per-camera appearance embedding."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from latent_atlas.encodings.hash_grid import HashGridConfig, HashGridEncoding
from latent_atlas.encodings.kplanes import KPlanesConfig, KPlanesEncoding
from latent_atlas.encodings.spherical_harmonics import spherical_harmonics
from latent_atlas.fields.activations import trunc_exp
from latent_atlas.fields.contraction import to_unit_cube


@dataclass
class NGPFieldConfig:
    """Grid encoding and the two small MLPs."""

    encoding: Literal["hash", "kplanes"] = "hash"
    """Position encoding: hash (multiresolution hash grid) or kplanes (multiscale planes)."""
    hash_grid: HashGridConfig = field(default_factory=HashGridConfig)
    """Hash grid (encoding=hash)."""
    kplanes: KPlanesConfig = field(default_factory=KPlanesConfig)
    """Planes (encoding=kplanes)."""
    hidden: int = 64
    """Hidden units of both MLPs."""
    geometry_features: int = 15
    """Features passed from the density MLP to the colour MLP."""
    appearance_dim: int = 0
    """Per-training-camera appearance embedding size (0: none). Unseen cameras use the mean embedding."""
    contraction: Literal["none", "l2", "linf"] = "none"
    """none (scene box), l2 or linf (unbounded scenes contracted into radius 2)."""
    view_dependent: bool = True
    """Feed the view direction (degree-4 spherical harmonics) to the colour MLP; off: one colour per point, whatever
    the view. Keep it on for latents too: a latent instant-ngp without it decoded 26.1 dB against 28.7 on
    objects128/bunny at 120 s (BENCHMARKS.md, session 21): an encoder's latents of a surface change with the view."""


def make_encoding(cfg: NGPFieldConfig) -> nn.Module:
    """The position encoding of a grid field ([m, 3] in [0, 1]^3 -> [m, D])."""
    if cfg.encoding == "hash":
        return HashGridEncoding(cfg.hash_grid)
    if cfg.encoding == "kplanes":
        return KPlanesEncoding(cfg.kplanes)
    raise ValueError(f"unknown encoding '{cfg.encoding}' (choose hash or kplanes)")


def encode(encoding: nn.Module, unit_points: Tensor, times: Tensor | None) -> Tensor:
    """Features of points [m, 3] in [0, 1]^3, with times [m, 1] for encodings that have time planes."""
    return encoding(unit_points) if times is None else encoding(unit_points, times)


class NGPField(nn.Module):
    """density(points [m, 3]) -> [m]; color(points, directions [m, 3], camera_indices [m] | None) -> [m, C]."""

    def __init__(self, cfg: NGPFieldConfig, channels: int, box_min: Tensor, box_max: Tensor, num_cameras: int = 1):
        super().__init__()
        self.cfg = cfg
        self.encoding = make_encoding(cfg)
        self.density_mlp = nn.Sequential(nn.Linear(self.encoding.out_dim, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, 1 + cfg.geometry_features))
        color_in = cfg.geometry_features + (16 if cfg.view_dependent else 0) + cfg.appearance_dim
        self.color_mlp = nn.Sequential(
            nn.Linear(color_in, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, channels)
        )
        self.appearance = nn.Embedding(num_cameras, cfg.appearance_dim) if cfg.appearance_dim > 0 else None
        if self.appearance is not None:
            nn.init.normal_(self.appearance.weight, std=0.01)
        self.register_buffer("box_min", box_min.clone().float())
        self.register_buffer("box_max", box_max.clone().float())

    def _trunk(self, points: Tensor, times: Tensor | None = None) -> Tensor:
        return self.density_mlp(encode(self.encoding, to_unit_cube(points, self.box_min, self.box_max, self.cfg.contraction), times))

    def density(self, points: Tensor, times: Tensor | None = None) -> Tensor:
        return trunc_exp(self._trunk(points, times)[:, 0] - 1.0)

    def density_with_features(self, points: Tensor, times: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """density [m] and geometry features [m, G] (input of color_from_features); times [m, 1] for time planes."""
        trunk = self._trunk(points, times)
        return trunc_exp(trunk[:, 0] - 1.0), trunk[:, 1:]

    def color_from_features(self, geometry: Tensor, directions: Tensor, camera_indices: Tensor | None = None) -> Tensor:
        """Channels [m, C] from geometry features [m, G] and directions [m, 3]."""
        parts = [geometry, spherical_harmonics(directions)] if self.cfg.view_dependent else [geometry]
        if self.appearance is not None:
            if camera_indices is None:
                parts.append(self.appearance.weight.mean(0).expand(geometry.shape[0], -1))
            else:
                parts.append(self.appearance(camera_indices))
        return torch.sigmoid(self.color_mlp(torch.cat(parts, dim=-1)))

    def density_and_color(self, points: Tensor, directions: Tensor, camera_indices: Tensor | None = None, times: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Both at once, sharing the grid lookup: density [m], channels [m, C]."""
        density, geometry = self.density_with_features(points, times)
        return density, self.color_from_features(geometry, directions, camera_indices)
