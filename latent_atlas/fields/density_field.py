"""Density-only grid field: the proposal networks of nerfacto and k-planes."""

from __future__ import annotations

from torch import Tensor, nn

from latent_atlas.fields.activations import trunc_exp
from latent_atlas.fields.contraction import to_unit_cube
from latent_atlas.fields.ngp_field import NGPFieldConfig, encode, make_encoding


class DensityField(nn.Module):
    """points [m, 3] -> density [m]: grid encoding -> one hidden layer -> trunc_exp."""

    def __init__(self, cfg: NGPFieldConfig, box_min: Tensor, box_max: Tensor):
        super().__init__()
        self.cfg = cfg
        self.encoding = make_encoding(cfg)
        self.mlp = nn.Sequential(nn.Linear(self.encoding.out_dim, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, 1))
        self.register_buffer("box_min", box_min.clone().float())
        self.register_buffer("box_max", box_max.clone().float())

    def density(self, points: Tensor, times: Tensor | None = None) -> Tensor:
        """Density [m] at points [m, 3] (times [m, 1] for time planes)."""
        unit = to_unit_cube(points, self.box_min, self.box_max, self.cfg.contraction)
        return trunc_exp(self.mlp(encode(self.encoding, unit, times))[:, 0] - 1.0)
