"""D-NeRF (Pumarola et al. 2021): a time-conditioned deformation field carries each sample into a canonical
NeRF (the scene at t = 0), rendered coarse-to-fine as vanilla NeRF."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field  # configs have an attribute named `field`
from typing import ClassVar

from torch import Tensor

from latent_atlas.cameras import RayBundle
from latent_atlas.errors import ConfigError
from latent_atlas.fields.deformation import DeformationField, DeformationFieldConfig
from latent_atlas.methods.base import GeometryKind
from latent_atlas.methods.vanilla_nerf import VanillaNeRF, VanillaNeRFConfig
from latent_atlas.rendering.field_rendering import FieldFn, render_coarse_to_fine


@dataclass
class DNeRFConfig(VanillaNeRFConfig):
    """Deformation MLP + canonical coarse/fine NeRF fields; rays read their frame's `time`."""

    uses_time: ClassVar[bool] = True
    deformation: DeformationFieldConfig = dataclass_field(default_factory=DeformationFieldConfig)
    """The deformation network."""

    def setup(self, channels: int, box_min: Tensor, box_max: Tensor, num_cameras: int = 1) -> DNeRF:
        if self.mip != "off":
            raise ConfigError("--model.mip: dnerf deforms points, not mip-NeRF's frustum Gaussians; use --model.mip off")
        return DNeRF(self, channels)


class DNeRF(VanillaNeRF):
    """VanillaNeRF whose fields are queried at x + deformation(x, t)."""

    def __init__(self, config: DNeRFConfig, channels: int):
        super().__init__(config, channels)
        self.deformation = DeformationField(config.deformation)

    def _deformed(self, field, times: Tensor) -> FieldFn:
        """The field seen at time `times` [n, 1]: positions [n, s, 3] -> field(canonical positions)."""

        def fn(positions: Tensor, directions: Tensor):
            t = times[:, None, :].expand(*positions.shape[:2], 1)
            return field(positions + self.deformation(positions, t), directions)

        return fn

    def forward(self, rays: RayBundle, background: Tensor) -> dict[str, Tensor]:
        cfg = self.config
        times = rays.metadata.get("time", rays.origins.new_zeros(len(rays), 1))  # a static query: the canonical frame
        fine = None if self.fine is None else self._deformed(self.fine, times)
        normals = self.render_normals and not self.training
        return render_coarse_to_fine(
            self._deformed(self.coarse, times), fine, rays, background, cfg.n_samples, cfg.n_importance, self.training and cfg.perturb, None, normals
        )

    def geometry(self, points: Tensor) -> tuple[Tensor, GeometryKind]:
        """Density at points [m, 3] (the canonical frame) or [m, 4] (x, y, z, t)."""
        if points.shape[-1] == 4:
            points = points[..., :3] + self.deformation(points[..., :3], points[..., 3:])
        return super().geometry(points)
