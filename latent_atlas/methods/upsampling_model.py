"""Neural upsampling (GIRAFFE-style) for any method: the field renders F feature channels at 1/k of the image
size, and a small CNN turns each feature patch into the full-size image (RGB or latent), so each step renders
k^2 fewer rays. Rays go through the centres of k x k pixel blocks; training draws patches."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latent_atlas.cameras import RayBundle
from latent_atlas.errors import ConfigError
from latent_atlas.methods.base import Model, ModelWrapper, OptimizerConfig, PixelLossFn, default_pixel_loss

UPSAMPLER_GROUP = "upsampler"
"""The parameter group of the CNN."""


@dataclass
class NeuralUpsamplingConfig:
    """`--upsampling.factor K`: render features at 1/K size, upsample with a CNN (1: off)."""

    factor: int = 1
    """Upsampling factor K, a power of two (1: render every pixel, no CNN). Training patches (--patch-size)
    must be multiples of K; needs a constant --background (white or black)."""
    features: int = 16
    """Feature channels the field renders for the CNN."""
    width: int = 64
    """Channels of the CNN's hidden layers."""
    lr: float = 1e-3
    """Adam learning rate of the CNN (decays to a tenth)."""


class PatchUpsampler(nn.Module):
    """features [B, F, h, w] -> images [B, C, h k, w k]: a bilinear skip of a 1x1 projection plus, per doubling,
    nearest x2 -> 3x3 conv -> leaky ReLU, ending in a 3x3 conv (the residual). It starts as the bilinear upsampling
    of the first C feature channels (projection = identity on them, residual zero): a low-resolution render."""

    def __init__(self, features: int, channels: int, factor: int, width: int):
        super().__init__()
        self.factor = factor
        self.skip = nn.Conv2d(features, channels, 1)
        layers: list[nn.Module] = [nn.Conv2d(features, width, 3, padding=1), nn.LeakyReLU(0.2)]
        for _ in range(int(math.log2(factor))):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width, width, 3, padding=1), nn.LeakyReLU(0.2)]
        layers.append(nn.Conv2d(width, channels, 3, padding=1))
        self.body = nn.Sequential(*layers)
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)
        with torch.no_grad():
            self.skip.weight.zero_()
            self.skip.bias.zero_()
            self.skip.weight[:, :channels, 0, 0] = torch.eye(channels)

    def forward(self, features: Tensor) -> Tensor:
        skip = F.interpolate(self.skip(features), scale_factor=self.factor, mode="bilinear", align_corners=False)
        image = skip + self.body(features)
        return image if self.training else image.clamp(0.0, 1.0)


class WithNeuralUpsampling(ModelWrapper):
    """Wraps a model that renders `features` channels: render_blocks gives full-size patches."""

    def __init__(self, inner: Model, channels: int, config: NeuralUpsamplingConfig):
        if config.features < channels:
            raise ConfigError(f"--upsampling.features {config.features}: at least the image's {channels} channels")
        super().__init__(inner)
        self.channels = channels
        self.config = config
        self.upsample_factor = config.factor
        self.upsampler = PatchUpsampler(inner.channels, channels, config.factor, config.width)

    def forward(self, rays: RayBundle, background: Tensor) -> dict[str, Tensor]:
        raise ConfigError("neural upsampling renders whole patches (render_blocks), not scattered rays: use --sampler patches")

    def render_blocks(self, rays: RayBundle, background: Tensor, shape: tuple[int, int, int]) -> dict[str, Tensor]:
        """Rays [B h w] through block centres (patch-major, row-major) -> {'color': [B hk wk, C], 'acc', 'depth':
        [B hk wk, 1] (nearest), 'features': [B h w, F]}; background [C] or [B h w, C] (in the image's space)."""
        b, h, w = shape
        k = self.upsample_factor
        out = self.inner(rays, self.feature_background(background).expand(len(rays), -1))
        features = out["color"].reshape(b, h, w, -1).permute(0, 3, 1, 2)
        image = self.upsampler(features).permute(0, 2, 3, 1).reshape(-1, self.channels)

        def nearest(values: Tensor) -> Tensor:
            grid = values.reshape(b, h, w, -1).permute(0, 3, 1, 2)
            return F.interpolate(grid, scale_factor=k, mode="nearest").permute(0, 2, 3, 1).reshape(b * h * k * w * k, -1)

        result = {"color": image, "acc": nearest(out["acc"]), "depth": nearest(out["depth"]), "features": out["color"], "inner": out}
        if "color_coarse" in out:  # a coarse network learns through the same CNN
            coarse = out["color_coarse"].reshape(b, h, w, -1).permute(0, 3, 1, 2)
            result["color_coarse"] = self.upsampler(coarse).permute(0, 2, 3, 1).reshape(-1, self.channels)
        if "normals" in out:
            result["normals"] = nearest(out["normals"])
        return result

    def feature_background(self, background: Tensor) -> Tensor:
        """The background [..., C] in feature space [..., F]: its value in the first C channels (what the CNN's skip
        passes on at the start), zeros after."""
        padding = background.new_zeros(*background.shape[:-1], self.inner.channels - self.channels)
        return torch.cat([background, padding], dim=-1)

    def upsample(self, features: Tensor) -> Tensor:
        """Feature images [B, h, w, F] -> images [B, h k, w k, C]."""
        return self.upsampler(features.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)

    def loss_dict(self, outputs: dict[str, Tensor], target: Tensor, pixel_loss: PixelLossFn = default_pixel_loss) -> dict[str, Tensor]:
        """The pixel losses on the upsampled image, plus the inner model's regularisers (its own pixel terms,
        which compare features, are left out)."""
        losses = pixel_loss(outputs["color"], target)
        if "color_coarse" in outputs:
            losses.update(pixel_loss(outputs["color_coarse"], target, "color_coarse"))
        inner = self.inner.loss_dict(outputs["inner"], outputs["inner"]["color"].detach(), lambda *a, **k: {})
        return {**losses, **inner}

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {**self.inner.param_groups(), UPSAMPLER_GROUP: list(self.upsampler.parameters())}

    def default_optimizers(self) -> dict[str, OptimizerConfig]:
        return {**self.inner.default_optimizers(), UPSAMPLER_GROUP: OptimizerConfig(lr=self.config.lr, lr_final=self.config.lr / 10)}

    def configure_for_space(self, black: Tensor, colour_values: bool) -> None:
        self.inner.configure_for_space(torch.zeros(self.inner.channels, device=black.device), False)  # it renders features


def block_centres(left: Tensor, top: Tensor, width: int, height: int, factor: int) -> tuple[Tensor, Tensor]:
    """Pixel coordinates (x, y) [B h w] of the centres of the factor x factor blocks of B patches of width x height
    pixels at (left, top) [B], row-major (as Cameras.pixel_directions takes them: pixel + 0.5 is the centre)."""
    h, w = height // factor, width // factor
    dy, dx = torch.meshgrid(torch.arange(h, device=left.device), torch.arange(w, device=left.device), indexing="ij")
    offset = (factor - 1) / 2.0
    x = left[:, None].float() + factor * dx.reshape(1, -1).float() + offset
    y = top[:, None].float() + factor * dy.reshape(1, -1).float() + offset
    return x.reshape(-1), y.reshape(-1)
