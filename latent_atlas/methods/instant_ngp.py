"""`instant-ngp` (Müller et al. 2022): hash-grid field, occupancy-grid ray marching."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field  # configs have an attribute named `field`

from torch import Tensor, nn

from latent_atlas.cameras import RayBundle
from latent_atlas.fields.ngp_field import NGPField, NGPFieldConfig
from latent_atlas.methods.base import Model, ModelConfig, PixelLossFn, default_pixel_loss
from latent_atlas.rendering.marching import march_samples, render_marched
from latent_atlas.rendering.occupancy import OccupancyGrid


@dataclass
class InstantNGPConfig(ModelConfig):
    """instant-ngp model: field, marching step and occupancy-grid schedule."""

    field: NGPFieldConfig = dataclass_field(default_factory=NGPFieldConfig)
    """Hash grid and MLPs."""
    steps_per_diagonal: int = 1024
    """Marching step = box diagonal / this."""
    max_samples: int = 1024
    """Upper bound on samples per ray."""
    occupancy_resolution: int = 128
    """Occupancy grid side."""
    occupancy_update_every: int = 16
    """Steps between occupancy-grid updates."""
    occupancy_warmup: int = 256
    """Until this step, updates evaluate every cell."""
    occupancy_threshold: float = 0.01
    """Opacity (density * step) below which a cell is empty."""
    occupancy_decay: float = 0.95
    """Each update multiplies a cell's remembered opacity by this before taking the max with the new value."""
    weight_threshold: float = 1e-4
    """Samples with lower render weight skip the colour MLP."""
    early_stop_eps: float = 1e-4
    """Training evaluates the field with gradients only where transmittance is above this (0: everywhere)."""

    def setup(self, channels: int, box_min: Tensor, box_max: Tensor, num_cameras: int = 1) -> InstantNGP:
        return InstantNGP(self, channels, box_min, box_max)


class InstantNGP(Model):
    """Parameter groups 'encoding' (hash tables) and 'networks' (MLPs)."""

    def __init__(self, config: InstantNGPConfig, channels: int, box_min: Tensor, box_max: Tensor):
        super().__init__()
        self.config = config
        self.channels = channels
        self.field = NGPField(config.field, channels, box_min, box_max)
        self.grid = OccupancyGrid(box_min, box_max, config.occupancy_resolution, decay=config.occupancy_decay, threshold=config.occupancy_threshold)
        self.step = float((box_max - box_min).norm()) / config.steps_per_diagonal

    def before_step(self, step: int, progress: float = 0.0) -> bool:
        cfg = self.config
        if step % cfg.occupancy_update_every == 0:  # from step 0: the first steps already skip empty cells
            self.grid.update(self.field.density, self.step, all_cells=step < cfg.occupancy_warmup)
        return False

    def forward(self, rays: RayBundle, background: Tensor) -> dict[str, Tensor]:
        cfg = self.config
        t, valid = march_samples(rays.near[:, 0], rays.far[:, 0], self.step, cfg.max_samples, self.training)
        return render_marched(
            rays,
            t,
            valid,
            self.step,
            density_fn=self.field.density_with_features,
            color_fn=lambda p, d, geometry: self.field.color_from_features(geometry, d),
            channels=self.channels,
            background=background,
            occupancy_fn=self.grid.query,
            weight_threshold=cfg.weight_threshold,
            early_stop_eps=cfg.early_stop_eps,
        )

    def loss_dict(self, outputs: dict[str, Tensor], target: Tensor, pixel_loss: PixelLossFn = default_pixel_loss) -> dict[str, Tensor]:
        return pixel_loss(outputs["color"], target)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {
            "encoding": list(self.field.encoding.parameters()),
            "networks": list(self.field.density_mlp.parameters()) + list(self.field.color_mlp.parameters()),
        }
