"""Any method with a learned background (`--background learned`): the method's model renders over the values a
LearnedBackground gives each ray's direction, instead of over a constant colour."""

from __future__ import annotations

from torch import Tensor, nn

from latent_atlas.cameras import RayBundle
from latent_atlas.methods.base import Model, ModelWrapper, OptimizerConfig
from latent_atlas.rendering.backgrounds import LearnedBackground

BACKGROUND_GROUP = "background"
"""The parameter group of the learned background."""
BACKGROUND_OPTIMIZER = OptimizerConfig(lr=1e-2, lr_final=1e-3)
"""Its Adam schedule."""


class WithLearnedBackground(ModelWrapper):
    """Wraps a model: forward ignores the given background and uses the learned one."""

    def __init__(self, inner: Model):
        super().__init__(inner)
        self.background = LearnedBackground(inner.channels)

    def forward(self, rays: RayBundle, background: Tensor) -> dict[str, Tensor]:
        return self.inner(rays, self.background(rays.directions).to(background.dtype))

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {**self.inner.param_groups(), BACKGROUND_GROUP: list(self.background.parameters())}

    def default_optimizers(self) -> dict[str, OptimizerConfig]:
        return {**self.inner.default_optimizers(), BACKGROUND_GROUP: BACKGROUND_OPTIMIZER}
