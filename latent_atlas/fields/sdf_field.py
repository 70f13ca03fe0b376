"""The signed-distance field of VolSDF/IDR: encoded position -> SDF and features, geometric (sphere) init;
a colour network on position, normal, view direction and features."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from latent_atlas.encodings.frequency import FrequencyEncoding
from latent_atlas.fields.mlp import MLP


@dataclass
class SDFFieldConfig:
    """Architecture of the SDF network and its colour network."""

    width: int = 256
    """Hidden units of the SDF network."""
    depth: int = 8
    """Hidden layers of the SDF network."""
    skips: tuple[int, ...] = (4,)
    """Layers that receive the encoded position again (scaled by 1/sqrt(2), as IDR)."""
    position_frequencies: int = 6
    """Octaves of the positional encoding of x."""
    feature_size: int = 256
    """Features passed from the SDF network to the colour network."""
    init_radius: float = 0.5
    """Geometric initialisation: the SDF starts as that of a sphere of this radius about the origin."""
    softplus_beta: float = 100.0
    """Sharpness of the softplus activations (smooth, so that second derivatives exist for the eikonal loss)."""
    color_width: int = 256
    """Hidden units of the colour network."""
    color_depth: int = 4
    """Hidden layers of the colour network."""
    direction_frequencies: int = 4
    """Octaves of the encoding of the view direction."""
    bounding_sphere: float = 0.0
    """When > 0, the SDF is clipped to that of the inside of a sphere of this radius (VolSDF's scene bound for
    scenes with surroundings: every ray ends on it). 0: off (objects on a background)."""


class SDFNetwork(nn.Module):
    """points [..., 3] -> (sdf [...], features [..., F]), initialised to the SDF of a sphere (Atzmon & Lipman)."""

    def __init__(self, config: SDFFieldConfig):
        super().__init__()
        self.config = config
        self.encoding = FrequencyEncoding(3, config.position_frequencies)
        enc = self.encoding.out_dim
        self.skips = set(config.skips)
        self.layers = nn.ModuleList()
        dim = enc
        for i in range(config.depth):
            if i in self.skips:
                dim += enc
            self.layers.append(nn.Linear(dim, config.width))
            dim = config.width
        self.out = nn.Linear(config.width, 1 + config.feature_size)
        self.activation = nn.Softplus(beta=config.softplus_beta)
        self._geometric_init(enc)

    @torch.no_grad()
    def _geometric_init(self, enc: int) -> None:
        """Hidden layers N(0, 2/out) on the raw coordinates only (encoded octaves start at zero weight), output
        weight N(sqrt(pi)/sqrt(width), 1e-4) and bias -radius: f(x) ~ |x| - radius."""
        for i, layer in enumerate(self.layers):
            nn.init.normal_(layer.weight, 0.0, math.sqrt(2.0) / math.sqrt(layer.out_features))
            nn.init.zeros_(layer.bias)
            if i == 0:
                layer.weight[:, 3:] = 0.0
            elif i in self.skips:
                layer.weight[:, -(enc - 3) :] = 0.0
        nn.init.normal_(self.out.weight, math.sqrt(math.pi) / math.sqrt(self.config.width), 1e-4)
        nn.init.constant_(self.out.bias, -self.config.init_radius)

    def forward(self, points: Tensor) -> tuple[Tensor, Tensor]:
        x = self.encoding(points)
        h = x
        for i, layer in enumerate(self.layers):
            if i in self.skips:
                h = torch.cat([h, x], dim=-1) / math.sqrt(2.0)
            h = self.activation(layer(h))
        out = self.out(h)
        sdf = out[..., 0]
        if self.config.bounding_sphere > 0:
            sdf = torch.minimum(sdf, self.config.bounding_sphere - points.norm(dim=-1))
        return sdf, out[..., 1:]

    def sdf_and_gradient(self, points: Tensor, create_graph: bool) -> tuple[Tensor, Tensor, Tensor]:
        """sdf [...], its gradient [..., 3] and the features [..., F] at points [..., 3] (autograd even under no_grad)."""
        with torch.enable_grad():
            x = points.detach().requires_grad_(True) if not points.requires_grad else points
            sdf, features = self(x)
            (gradient,) = torch.autograd.grad(sdf.sum(), x, create_graph=create_graph)
        return sdf, gradient, features


class SDFColorNetwork(nn.Module):
    """(points, normals, directions [..., 3], features [..., F]) -> channels [..., C] in [0, 1] (IDR's rendering net)."""

    def __init__(self, config: SDFFieldConfig, channels: int):
        super().__init__()
        self.direction_encoding = FrequencyEncoding(3, config.direction_frequencies)
        self.mlp = MLP(6 + self.direction_encoding.out_dim + config.feature_size, config.color_width, config.color_depth, channels)

    def forward(self, points: Tensor, normals: Tensor, directions: Tensor, features: Tensor) -> Tensor:
        return torch.sigmoid(self.mlp(torch.cat([points, normals, self.direction_encoding(directions), features], dim=-1)))
