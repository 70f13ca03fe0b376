"""What every method provides: a model config that builds a Model, optimisers and a schedule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from latent_atlas.cameras import RayBundle
from latent_atlas.data.pixel_sampler import SamplerName
from latent_atlas.engine.optimizers import adam
from latent_atlas.losses.colour import ColourSpace, ToneMap
from latent_atlas.losses.pixel import l2


@dataclass
class OptimizerConfig:
    """Adam for one parameter group, with exponential learning-rate decay."""

    lr: float = 5e-4
    """Initial learning rate."""
    lr_final: float = 5e-5
    """Learning rate at the end of the schedule (exponential decay from `lr`)."""
    eps: float = 1e-8
    """Adam epsilon."""
    betas: tuple[float, float] = (0.9, 0.999)
    """Adam betas."""
    weight_decay: float = 0.0
    """Decoupled weight decay (AdamW) when positive."""

    def build(self, params) -> torch.optim.Optimizer:
        """Adam (AdamW with weight decay) over `params` at the initial learning rate, with this eps and betas."""
        return adam(params, lr=self.lr, eps=self.eps, betas=self.betas, weight_decay=self.weight_decay)

    def lr_at(self, progress: float) -> float:
        """Learning rate at `progress` in [0, 1] of the schedule."""
        progress = min(max(progress, 0.0), 1.0)
        return self.lr * (self.lr_final / self.lr) ** progress


GeometryKind = Literal["sdf", "density"]

PixelLossFn = Callable[..., dict[str, Tensor]]
"""(prediction [n, C], target [n, C], prefix='color') -> weighted pixel-loss terms named '<prefix>_<loss>'."""


def default_pixel_loss(prediction: Tensor, target: Tensor, prefix: str = "color") -> dict[str, Tensor]:
    """The plain L2 term, for models used outside a configured run."""
    return {f"{prefix}_l2": l2(prediction, target)}


class Model(nn.Module):
    """A radiance-field model: rays -> rendered channels, and its losses."""

    channels: int
    render_normals: bool = False
    """Set by renderers that show normals: density-field models then also return 'normals' [n, 3] in eval mode
    (an extra backward pass per chunk; VolSDF always returns them)."""

    def forward(self, rays: RayBundle, background: Tensor) -> dict[str, Tensor]:
        """Renders rays [n]: {'color': [n, C], 'acc': [n, 1], 'depth': [n, 1], ...}; background [n, C]."""
        raise NotImplementedError

    def loss_dict(self, outputs: dict[str, Tensor], target: Tensor, pixel_loss: PixelLossFn = default_pixel_loss) -> dict[str, Tensor]:
        """Loss terms for target colours [n, C]: the run's pixel losses on each rendered colour plus the method's
        regularisers; the trainer minimises their sum."""
        raise NotImplementedError

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by optimiser group name (keys of MethodConfig.optimizers)."""
        return {"fields": list(self.parameters())}

    def default_optimizers(self) -> dict[str, OptimizerConfig]:
        """Adam schedules of parameter groups the method's config need not name (parts added around a method:
        a learned background, an upsampling CNN)."""
        return {}

    def configure_for_space(self, black: Tensor, colour_values: bool) -> None:
        """What the image space tells the model it renders into: the value [C] of RGB black there (a latent space:
        the encoding of black), and whether its values are colours (so priors tuned on RGB images apply).
        Models that need either override this."""

    def before_step(self, step: int, progress: float = 0.0) -> bool:
        """Hook called before each training step with the fraction of the run done (schedules, grid updates).

        Returns True when it replaced parameters (e.g. grid upsampling): the
        trainer then rebuilds the optimisers.
        """
        return False

    def geometry(self, points: Tensor) -> tuple[Tensor, GeometryKind]:
        """The scalar field a mesh is extracted from, at points [m, 3]: (values [m], 'sdf' (surface at 0, negative
        inside) or 'density' (surface at a density threshold)). Models without one raise NotImplementedError."""
        raise NotImplementedError

    def resize_to_state_dict(self, state_dict: dict[str, Tensor]) -> None:
        """Re-creates parameters/buffers whose shape changed during training (resized grids) before loading."""
        for name, value in state_dict.items():
            module_name, _, attr = name.rpartition(".")
            module = self.get_submodule(module_name) if module_name else self
            current = getattr(module, attr, None)
            if isinstance(current, Tensor) and current.shape != value.shape:
                if isinstance(current, nn.Parameter):
                    setattr(module, attr, nn.Parameter(torch.empty_like(value, device=current.device)))
                else:
                    module.register_buffer(attr, torch.empty_like(value, device=current.device))


class ModelWrapper(Model):
    """A model around another (`inner`) that adds a part to any method (a learned background, an upsampling CNN):
    everything it does not override is the inner model's."""

    def __init__(self, inner: Model):
        super().__init__()
        self.inner = inner
        self.channels = inner.channels

    @property
    def render_normals(self) -> bool:
        return self.inner.render_normals

    @render_normals.setter
    def render_normals(self, value: bool) -> None:
        self.inner.render_normals = value

    def loss_dict(self, outputs: dict[str, Tensor], target: Tensor, pixel_loss: PixelLossFn = default_pixel_loss) -> dict[str, Tensor]:
        return self.inner.loss_dict(outputs, target, pixel_loss)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return self.inner.param_groups()

    def default_optimizers(self) -> dict[str, OptimizerConfig]:
        return self.inner.default_optimizers()

    def configure_for_space(self, black: Tensor, colour_values: bool) -> None:
        self.inner.configure_for_space(black, colour_values)

    def before_step(self, step: int, progress: float = 0.0) -> bool:
        return self.inner.before_step(step, progress)

    def geometry(self, points: Tensor) -> tuple[Tensor, GeometryKind]:
        return self.inner.geometry(points)

    def resize_to_state_dict(self, state_dict: dict[str, Tensor]) -> None:
        prefix = "inner."
        self.inner.resize_to_state_dict({k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)})


@dataclass
class ModelConfig:
    """Base of model configs: `setup` builds the model."""

    uses_time: ClassVar[bool] = False
    """Whether the model reads the rays' time (dynamic scenes); static models warn on a dynamic scene."""

    def setup(self, channels: int, box_min: Tensor, box_max: Tensor, num_cameras: int = 1) -> Model:
        """Builds the model for C channels, the scene box [3] and num_cameras training views."""
        raise NotImplementedError


@dataclass
class MethodConfig:
    """A method: its model, optimisers and training schedule (the registry's entries)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    """The model architecture."""
    optimizers: dict[str, OptimizerConfig] = field(default_factory=lambda: {"fields": OptimizerConfig()})
    """Adam per parameter group (see the model's param_groups)."""
    max_steps: int = 30000
    """Training steps; the learning-rate schedule spans them (or --max-time, whichever ends first)."""
    rays_per_batch: int = 1024
    """Rays per training step (the first step's count when samples_per_batch is set)."""
    samples_per_batch: int = 0
    """When > 0, rays per step adapt so that about this many samples reach the field (nerfacc's
    dynamic batch): marching methods then do constant work per step however much space is empty."""
    losses: tuple[str, ...] = ("l2:1.0",)
    """Pixel losses and weights, NAME:WEIGHT (l2, l1, rmse, charbonnier, ssim, fft), e.g. --losses l2:1.0 ssim:0.2."""
    loss_colour_space: ColourSpace = "rgb"
    """Colour space the pixel losses compare in: rgb, hsv (the HSV cone: chroma x cos/sin hue, value), luminance
    (Y) or xyz (CIE XYZ, D65). RGB spaces only."""
    loss_tone_map: ToneMap = "none"
    """Tone curve on the colours before the loss: none, gamma (x^(1/--loss-gamma)) or reinhard (x / (1 + x))."""
    loss_gamma: float = 2.2
    """Gamma of --loss-tone-map gamma."""
    sampler: SamplerName = "rays"
    """How training pixels are drawn: rays (uniform), importance (rays, three quarters of them from image tiles in proportion
    to their recent error: instant-ngp's error map), patches (square, for ssim/fft), images (one whole view)."""
    patch_size: int = 16
    """Side of the square patches of --sampler patches."""
    crop_fraction: float = 1.0
    """For the first --crop-steps steps, draw rays and patches from the central crop of this fraction of each image
    side (NeRF's precrop: 0.5 keeps an object-centred scene from starting empty). 1: no crop."""
    crop_steps: int = 0
    """Steps of crop training (0: none)."""
    eval_chunk: int = 4096
    """Rays rendered at once when rendering full images."""
    bf16_on_cuda: bool = True
    """Whether --mixed-precision auto trains this method in bf16 autocast on CUDA (off where bf16 measured
    slower with no memory to gain: triplane, BENCHMARKS.md)."""
