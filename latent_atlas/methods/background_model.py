"""Any method with a learned background (`--background learned`): the method's model renders over the values a
LearnedBackground gives each ray's direction, instead of over a constant colour."""

from __future__ import annotations

from torch import Tensor, nn

from latent_atlas.cameras import RayBundle
from latent_atlas.methods.base import GeometryKind, Model, OptimizerConfig, PixelLossFn, default_pixel_loss
from latent_atlas.rendering.backgrounds import LearnedBackground

BACKGROUND_GROUP = "background"
"""The parameter group of the learned background."""
BACKGROUND_OPTIMIZER = OptimizerConfig(lr=1e-2, lr_final=1e-3)
"""Its Adam schedule."""


class WithLearnedBackground(Model):
    """Wraps a model: forward ignores the given background and uses the learned one; all else is the model's."""

    def __init__(self, inner: Model):
        super().__init__()
        self.inner = inner
        self.channels = inner.channels
        self.background = LearnedBackground(inner.channels)

    @property
    def render_normals(self) -> bool:
        return self.inner.render_normals

    @render_normals.setter
    def render_normals(self, value: bool) -> None:
        self.inner.render_normals = value

    def forward(self, rays: RayBundle, background: Tensor) -> dict[str, Tensor]:
        return self.inner(rays, self.background(rays.directions).to(background.dtype))

    def loss_dict(self, outputs: dict[str, Tensor], target: Tensor, pixel_loss: PixelLossFn = default_pixel_loss) -> dict[str, Tensor]:
        return self.inner.loss_dict(outputs, target, pixel_loss)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {**self.inner.param_groups(), BACKGROUND_GROUP: list(self.background.parameters())}

    def default_optimizers(self) -> dict[str, OptimizerConfig]:
        return {**self.inner.default_optimizers(), BACKGROUND_GROUP: BACKGROUND_OPTIMIZER}

    def configure_for_space(self, black: Tensor, colour_values: bool) -> None:
        self.inner.configure_for_space(black, colour_values)

    def before_step(self, step: int, progress: float = 0.0) -> bool:
        return self.inner.before_step(step, progress)

    def geometry(self, points: Tensor) -> tuple[Tensor, GeometryKind]:
        return self.inner.geometry(points)

    def resize_to_state_dict(self, state_dict: dict[str, Tensor]) -> None:
        prefix = "inner."
        self.inner.resize_to_state_dict({k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)})
