"""NeRF positional encoding: sin/cos at octave frequencies."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class FrequencyEncoding(nn.Module):
    """Maps x [..., D] to [x, sin(2^k s x), cos(2^k s x) for k < n_frequencies] (s = scale): [..., D * (2F + 1)]."""

    def __init__(self, in_dim: int, n_frequencies: int, include_input: bool = True, scale: float = 1.0):
        super().__init__()
        self.in_dim = in_dim
        self.n_frequencies = n_frequencies
        self.include_input = include_input
        self.register_buffer("frequencies", scale * 2.0 ** torch.arange(n_frequencies, dtype=torch.float32), persistent=False)

    @property
    def out_dim(self) -> int:
        return self.in_dim * (2 * self.n_frequencies + int(self.include_input))

    def forward(self, x: Tensor) -> Tensor:
        scaled = (x[..., None, :] * self.frequencies[:, None]).flatten(-2)
        parts = [torch.sin(scaled), torch.cos(scaled)]
        if self.include_input:
            parts.insert(0, x)
        return torch.cat(parts, dim=-1)


class GaussianFourierEncoding(nn.Module):
    """Random Fourier features (Tancik et al. 2020): x [..., D] -> [sin(2 pi x B^T), cos(2 pi x B^T)]: [..., 2F],
    with B [F, D] drawn once from N(0, scale^2) (from torch's global generator: seed first) and saved with the
    model, so that a resumed or evaluated run uses the same features."""

    def __init__(self, in_dim: int, n_features: int, scale: float):
        super().__init__()
        self.in_dim = in_dim
        self.register_buffer("projection", torch.randn(n_features, in_dim) * scale)

    @property
    def out_dim(self) -> int:
        return 2 * self.projection.shape[0]

    def forward(self, x: Tensor) -> Tensor:
        angles = 2 * torch.pi * x @ self.projection.T
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
