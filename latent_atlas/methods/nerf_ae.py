"""`nerf-ae` (NeRF Atlas): coarse/fine NeRF whose fields pass each point through a small material code, with a
code-regularisation weight (mean squared code) in the loss."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field  # configs have an attribute named `field`

from torch import Tensor

from latent_atlas.cameras import RayBundle
from latent_atlas.errors import ConfigError
from latent_atlas.fields.nerf_ae_field import NeRFAEField, NeRFAEFieldConfig
from latent_atlas.methods.base import PixelLossFn, default_pixel_loss
from latent_atlas.methods.vanilla_nerf import VanillaNeRF, VanillaNeRFConfig
from latent_atlas.rendering.field_rendering import render_coarse_to_fine


@dataclass
class NeRFAEConfig(VanillaNeRFConfig):
    """NeRF with material-code fields."""

    field: NeRFAEFieldConfig = dataclass_field(default_factory=NeRFAEFieldConfig)
    """Architecture of the coarse and fine fields (trunk, code size, decoders)."""
    code_weight: float = 1e-3
    """Weight of the code regulariser mean(|code|^2) over the rendered samples."""

    def setup(self, channels: int, box_min: Tensor, box_max: Tensor, num_cameras: int = 1) -> NeRFAE:
        if self.mip != "off":
            raise ConfigError("--model.mip: nerf-ae encodes points; use --model.mip off")
        return NeRFAE(self, channels)


class NeRFAE(VanillaNeRF):
    """VanillaNeRF with NeRFAEField fields; the codes of the last forward pass are kept for the loss."""

    def make_field(self, config: NeRFAEConfig, channels: int) -> NeRFAEField:
        return NeRFAEField(config.field, channels)

    def forward(self, rays: RayBundle, background: Tensor) -> dict[str, Tensor]:
        cfg = self.config
        codes: list[Tensor] = []

        def keeping_codes(field: NeRFAEField):
            def fn(positions: Tensor, directions: Tensor):
                density, color, code = field.forward_with_code(positions, directions)
                codes.append(code)
                return density, color

            return fn

        fine = None if self.fine is None else keeping_codes(self.fine)
        normals = self.render_normals and not self.training
        out = render_coarse_to_fine(
            keeping_codes(self.coarse), fine, rays, background, cfg.n_samples, cfg.n_importance, self.training and cfg.perturb, None, normals
        )
        out["code_sq"] = sum(c.pow(2).mean() for c in codes) / len(codes)
        return out

    def loss_dict(self, outputs: dict[str, Tensor], target: Tensor, pixel_loss: PixelLossFn = default_pixel_loss) -> dict[str, Tensor]:
        losses = super().loss_dict(outputs, target, pixel_loss)
        if self.config.code_weight > 0:
            losses["code"] = self.config.code_weight * outputs["code_sq"]
        return losses
