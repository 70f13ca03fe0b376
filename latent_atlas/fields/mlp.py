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


class SirenMLP(nn.Module):
    """SIREN (Sitzmann et al. 2020): sin(omega (W x + b)) layers with SIREN's initialisation (first layer
    U(-1/in, 1/in), later ones U(-sqrt(6/in)/omega, sqrt(6/in)/omega)): [..., in_dim] -> [..., width]."""

    def __init__(self, in_dim: int, width: int, depth: int, omega: float = 30.0):
        super().__init__()
        self.omega = omega
        self.hidden = nn.ModuleList(nn.Linear(in_dim if i == 0 else width, width) for i in range(depth))
        with torch.no_grad():
            for i, layer in enumerate(self.hidden):
                bound = 1.0 / layer.in_features if i == 0 else (6.0 / layer.in_features) ** 0.5 / omega
                layer.weight.uniform_(-bound, bound)
        self.out_dim = width

    def forward(self, x: Tensor) -> Tensor:
        h = x
        for layer in self.hidden:
            h = torch.sin(self.omega * layer(h))
        return h
