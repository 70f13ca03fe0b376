"""VolSDF (Yariv et al. 2021): an SDF network whose Laplace-CDF density (learned beta) is volume-rendered,
with the eikonal loss; samples placed by importance sampling of a first, gradient-free pass."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field  # configs have an attribute named `field`

import torch
from torch import Tensor, nn

from latent_atlas.cameras import RayBundle
from latent_atlas.fields.sdf_field import SDFColorNetwork, SDFFieldConfig, SDFNetwork
from latent_atlas.losses.regularisers import eikonal
from latent_atlas.methods.base import GeometryKind, Model, ModelConfig, PixelLossFn, default_pixel_loss
from latent_atlas.rendering.field_rendering import render_field
from latent_atlas.rendering.samplers import merge_edges, pdf_samples, stratified_edges
from latent_atlas.rendering.sdf_density import volsdf_density
from latent_atlas.rendering.volume import composite


@dataclass
class VolSDFConfig(ModelConfig):
    """VolSDF: SDF + colour networks, density (1 / beta) LaplaceCDF(-sdf, beta)."""

    field: SDFFieldConfig = dataclass_field(default_factory=SDFFieldConfig)
    """The SDF and colour networks."""
    n_samples: int = 64
    """Stratified samples per ray (the first, gradient-free pass)."""
    n_importance: int = 64
    """Samples per ray drawn from the first pass's weights (0: render the stratified samples only)."""
    beta_init: float = 0.1
    """Initial beta of the Laplace CDF (learned; smaller is a sharper surface)."""
    beta_min: float = 1e-4
    """Lower bound added to |beta|."""
    eikonal_weight: float = 0.1
    """Weight of the eikonal loss (|grad sdf| - 1)^2."""
    eikonal_points: int = 1024
    """Uniform random points in the scene box per step for the eikonal loss (besides the ray samples)."""
    perturb: bool = True
    """Jitter sample positions during training."""

    def setup(self, channels: int, box_min: Tensor, box_max: Tensor, num_cameras: int = 1) -> VolSDF:
        return VolSDF(self, channels, box_min, box_max)


class VolSDF(Model):
    """Parameter group 'fields' (SDF network, colour network, beta)."""

    def __init__(self, config: VolSDFConfig, channels: int, box_min: Tensor, box_max: Tensor):
        super().__init__()
        self.config = config
        self.channels = channels
        self.sdf = SDFNetwork(config.field)
        self.color = SDFColorNetwork(config.field, channels)
        self.beta_param = nn.Parameter(torch.tensor(config.beta_init))
        self.register_buffer("box_min", box_min.clone().float())
        self.register_buffer("box_max", box_max.clone().float())

    @property
    def beta(self) -> Tensor:
        return self.beta_param.abs() + self.config.beta_min

    def forward(self, rays: RayBundle, background: Tensor) -> dict[str, Tensor]:
        cfg = self.config
        perturb = self.training and cfg.perturb
        edges = stratified_edges(rays.near, rays.far, cfg.n_samples, perturb)
        if cfg.n_importance > 0:
            with torch.no_grad():
                first = render_field(lambda x, d: (volsdf_density(self.sdf(x)[0], self.beta), x[..., :1]), rays, edges, background[:, :1])
            edges = merge_edges(edges, pdf_samples(edges, first["weights"], cfg.n_importance, perturb))
        gradients: list[Tensor] = []

        def field_fn(positions: Tensor, directions: Tensor) -> tuple[Tensor, Tensor]:
            sdf, gradient, features = self.sdf.sdf_and_gradient(positions, create_graph=self.training)
            gradients.append(gradient)
            normals = gradient / gradient.norm(dim=-1, keepdim=True).clamp_min(1e-6)
            return volsdf_density(sdf, self.beta), self.color(positions, normals, directions, features)

        out = render_field(field_fn, rays, edges, background)
        normals = gradients[0] / gradients[0].norm(dim=-1, keepdim=True).clamp_min(1e-6)
        out["normals"] = composite(out["weights"], normals)
        if self.training:
            out["sample_gradients"] = gradients[0]
        return out

    def loss_dict(self, outputs: dict[str, Tensor], target: Tensor, pixel_loss: PixelLossFn = default_pixel_loss) -> dict[str, Tensor]:
        losses = pixel_loss(outputs["color"], target)
        cfg = self.config
        if self.training and cfg.eikonal_weight > 0 and "sample_gradients" in outputs:
            box = self.box_min + (self.box_max - self.box_min) * torch.rand(cfg.eikonal_points, 3, device=self.box_min.device)
            _, box_gradients, _ = self.sdf.sdf_and_gradient(box, create_graph=True)
            all_gradients = torch.cat([outputs["sample_gradients"].reshape(-1, 3), box_gradients])
            losses["eikonal"] = cfg.eikonal_weight * eikonal(all_gradients)
        return losses

    def geometry(self, points: Tensor) -> tuple[Tensor, GeometryKind]:
        return self.sdf(points)[0], "sdf"
