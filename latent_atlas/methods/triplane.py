"""`triplane`: one EG3D Tri-Plane scene, 48 stratified + 48 importance samples through the same field."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field  # configs have an attribute named `field`

from torch import Tensor, nn

from latent_atlas.cameras import RayBundle
from latent_atlas.fields.triplane_field import TriPlaneField, TriPlaneFieldConfig
from latent_atlas.losses.regularisers import plane_tv
from latent_atlas.methods.base import Model, ModelConfig, PixelLossFn, default_pixel_loss
from latent_atlas.rendering.field_rendering import render_coarse_to_fine


@dataclass
class TriPlaneConfig(ModelConfig):
    """Tri-Plane model."""

    field: TriPlaneFieldConfig = dataclass_field(default_factory=TriPlaneFieldConfig)
    """Planes and decoder."""
    n_samples: int = 48
    """Stratified samples per ray."""
    n_importance: int = 48
    """Importance samples per ray (same field)."""
    perturb: bool = True
    """Jitter samples during training."""
    tv_weight: float = 0.0
    """Weight of the total-variation loss on the planes."""

    def setup(self, channels: int, box_min: Tensor, box_max: Tensor, num_cameras: int = 1) -> TriPlane:
        return TriPlane(self, channels)


class TriPlane(Model):
    """A single-scene Tri-Plane model; parameter groups 'planes' and 'decoder'."""

    def __init__(self, config: TriPlaneConfig, channels: int):
        super().__init__()
        self.config = config
        self.channels = channels
        self.field = TriPlaneField(config.field, channels)

    def forward(self, rays: RayBundle, background: Tensor) -> dict[str, Tensor]:
        cfg = self.config
        # importance samples reuse the field; only the fine pass is supervised (EG3D)
        out = render_coarse_to_fine(
            self.field, self.field, rays, background, cfg.n_samples, cfg.n_importance, self.training and cfg.perturb, coarse_gradients=False
        )
        out.pop("color_coarse", None)
        return out

    def loss_dict(self, outputs: dict[str, Tensor], target: Tensor, pixel_loss: PixelLossFn = default_pixel_loss) -> dict[str, Tensor]:
        losses = pixel_loss(outputs["color"], target)
        if self.config.tv_weight > 0:
            losses["tv"] = self.config.tv_weight * plane_tv(self.field.planes)
        return losses

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"planes": [self.field.planes], "decoder": list(self.field.decoder.parameters())}
