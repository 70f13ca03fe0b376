"""D-NeRF's deformation field: (position, time) -> the offset that carries the point into the canonical frame."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from latent_atlas.encodings.frequency import FrequencyEncoding
from latent_atlas.fields.mlp import MLP


@dataclass
class DeformationFieldConfig:
    """Architecture of the deformation MLP."""

    width: int = 256
    """Hidden units."""
    depth: int = 8
    """Hidden layers."""
    skips: tuple[int, ...] = (4,)
    """Layers that receive the encoded inputs again."""
    position_frequencies: int = 10
    """Octaves of the positional encoding of x."""
    time_frequencies: int = 6
    """Octaves of the encoding of t."""


class DeformationField(nn.Module):
    """positions [..., 3], times [..., 1] in [0, 1] -> offsets [..., 3]; zero at t = 0 (the canonical frame, as
    D-NeRF) and, by the zero-initialised last layer, everywhere at the start."""

    def __init__(self, config: DeformationFieldConfig):
        super().__init__()
        self.position_encoding = FrequencyEncoding(3, config.position_frequencies)
        self.time_encoding = FrequencyEncoding(1, config.time_frequencies)
        self.mlp = MLP(self.position_encoding.out_dim + self.time_encoding.out_dim, config.width, config.depth, 3, skips=config.skips)
        nn.init.zeros_(self.mlp.out.weight)
        nn.init.zeros_(self.mlp.out.bias)

    def forward(self, positions: Tensor, times: Tensor) -> Tensor:
        offsets = self.mlp(torch.cat([self.position_encoding(positions), self.time_encoding(times)], dim=-1))
        return torch.where(times > 0, offsets, torch.zeros_like(offsets))
