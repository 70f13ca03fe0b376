"""A plain MLP with optional skip connections (the input concatenated back in)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class MLP(nn.Module):
    """ReLU MLP: [..., in_dim] -> [..., out_dim]; `skips` are layer indices that also receive the input."""

    def __init__(self, in_dim: int, width: int, depth: int, out_dim: int, skips: tuple[int, ...] = (), out_activation: nn.Module | None = None):
        super().__init__()
        self.skips = set(skips)
        layers = []
        dim = in_dim
        for i in range(depth):
            if i in self.skips:
                dim += in_dim
            layers.append(nn.Linear(dim, width))
            dim = width
        self.hidden = nn.ModuleList(layers)
        self.out = nn.Linear(dim, out_dim) if out_dim > 0 else None
        self.out_activation = out_activation
        self.out_dim = out_dim if out_dim > 0 else width

    def forward(self, x: Tensor) -> Tensor:
        h = x
        for i, layer in enumerate(self.hidden):
            if i in self.skips:
                h = torch.cat([h, x], dim=-1)
            h = torch.relu(layer(h))
        if self.out is not None:
            h = self.out(h)
        if self.out_activation is not None:
            h = self.out_activation(h)
        return h
