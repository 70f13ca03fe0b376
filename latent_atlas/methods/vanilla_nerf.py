"""Vanilla NeRF (Mildenhall et al. 2020): coarse + fine MLPs, hierarchical sampling."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field  # configs have an attribute named `field`
from typing import Literal

import torch
from torch import Tensor, nn

from latent_atlas.cameras import RayBundle
from latent_atlas.fields.nerf_field import NeRFField, NeRFFieldConfig
from latent_atlas.methods.base import GeometryKind, Model, ModelConfig, PixelLossFn, default_pixel_loss
from latent_atlas.rendering.field_rendering import render_coarse_to_fine


@dataclass
class VanillaNeRFConfig(ModelConfig):
    """Coarse/fine NeRF. With n_importance = 0 a single (coarse) network is used."""

    field: NeRFFieldConfig = dataclass_field(default_factory=NeRFFieldConfig)
    """Architecture of the coarse and fine fields."""
    n_samples: int = 64
    """Stratified samples per ray (coarse network)."""
    n_importance: int = 128
    """Importance samples per ray for the fine network (0: no fine network)."""
    perturb: bool = True
    """Jitter sample positions during training."""
    min_near: float = 0.05
    """Smallest ray start distance."""
    mip: Literal["off", "cone", "cylinder"] = "off"
    """mip-NeRF anti-aliasing: each sample is the conical (or cylindrical) frustum of its pixel, encoded by the
    integrated positional encoding (--model.field.position-frequencies octaves) instead of a point."""

    def setup(self, channels: int, box_min: Tensor, box_max: Tensor, num_cameras: int = 1) -> VanillaNeRF:
        return VanillaNeRF(self, channels)


class VanillaNeRF(Model):
    """Coarse network on stratified samples; fine network on coarse + importance samples."""

    def __init__(self, config: VanillaNeRFConfig, channels: int):
        super().__init__()
        self.config = config
        self.channels = channels
        self.coarse = self.make_field(config, channels)
        self.fine = self.make_field(config, channels) if config.n_importance > 0 else None

    def make_field(self, config: VanillaNeRFConfig, channels: int) -> nn.Module:
        """One of the coarse and fine fields (subclasses with other fields override this)."""
        return NeRFField(config.field, channels, config.mip != "off")

    def forward(self, rays: RayBundle, background: Tensor) -> dict[str, Tensor]:
        cfg = self.config
        footprint = None if cfg.mip == "off" else cfg.mip
        normals = self.render_normals and not self.training
        return render_coarse_to_fine(
            self.coarse, self.fine, rays, background, cfg.n_samples, cfg.n_importance, self.training and cfg.perturb, footprint, normals
        )

    def loss_dict(self, outputs: dict[str, Tensor], target: Tensor, pixel_loss: PixelLossFn = default_pixel_loss) -> dict[str, Tensor]:
        losses = pixel_loss(outputs["color"], target)
        if "color_coarse" in outputs:
            losses.update(pixel_loss(outputs["color_coarse"], target, "color_coarse"))
        return losses

    def geometry(self, points: Tensor) -> tuple[Tensor, GeometryKind]:
        """Density [m] of the fine field (the coarse one without it) at points [m, 3]."""
        field = self.fine if self.fine is not None else self.coarse
        if field.integrated:  # a point is a Gaussian of zero variance
            points = torch.cat([points, torch.zeros_like(points)], dim=-1)
        return field(points, torch.zeros_like(points[..., :3]))[0], "density"
