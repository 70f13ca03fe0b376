"""The NeRF Atlas's NeRF auto-encoder field: each point's trunk features are encoded to a small latent material
code, from which density and colour are decoded; the codes are regularised towards zero."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from latent_atlas.fields.mlp import MLP
from latent_atlas.fields.nerf_field import NeRFField, NeRFFieldConfig


@dataclass
class NeRFAEFieldConfig(NeRFFieldConfig):
    """A NeRF field with a material-code bottleneck."""

    code_size: int = 16
    """Size of each point's material code (the bottleneck)."""
    decoder_width: int = 64
    """Hidden units of the code decoder."""


class NeRFAEField(NeRFField):
    """positions [..., 3], directions [..., 3] -> density [...], channels [..., C]; forward_with_code also returns
    the codes [..., code_size]."""

    def __init__(self, config: NeRFAEFieldConfig, channels: int = 3, integrated: bool = False):
        super().__init__(config, channels, integrated)
        del self.density_head, self.feature, self.color_head  # replaced by the code bottleneck
        self.encoder = nn.Linear(config.width, config.code_size)
        self.density_decoder = MLP(config.code_size, config.decoder_width, 1, 1)
        head_in = config.code_size + (self.direction_encoding.out_dim if config.view_dependent else 0)
        self.color_decoder = MLP(head_in, config.decoder_width, 2, channels)

    def forward_with_code(self, positions: Tensor, directions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        code = self.encoder(self.trunk(self.position_encoding(positions)))
        density = torch.nn.functional.softplus(self.density_decoder(code)[..., 0] - 1.0)
        inputs = torch.cat([code, self.direction_encoding(directions)], dim=-1) if self.config.view_dependent else code
        return density, torch.sigmoid(self.color_decoder(inputs)), code

    def forward(self, positions: Tensor, directions: Tensor) -> tuple[Tensor, Tensor]:
        density, color, _ = self.forward_with_code(positions, directions)
        return density, color
