"""Losses: pixel losses (l2, l1, rmse, charbonnier, ssim, fft) behind one configured, weighted list, compared in a
colour space (rgb, hsv, luminance, xyz) after an optional tone curve, and regularisers.

`--losses l2:1.0 ssim:0.2` picks the pixel losses of a run; adding one is a
function in pixel.py plus a line in PIXEL_LOSSES. Patch losses (ssim, fft)
need pixels drawn as patches (`--sampler patches` or `images`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from latent_atlas.errors import ConfigError
from latent_atlas.losses.colour import COLOUR_SPACES, ColourSpace, ToneMap, tone_map
from latent_atlas.losses.pixel import charbonnier, fft_loss, l1, l2, rmse, ssim_loss


@dataclass(frozen=True)
class PixelLossKind:
    """A pixel loss: its function and whether it compares patches [P, h, w, C] (else any [..., C])."""

    function: Callable[[Tensor, Tensor], Tensor]
    on_patches: bool = False


PIXEL_LOSSES: dict[str, PixelLossKind] = {
    "l2": PixelLossKind(l2),
    "l1": PixelLossKind(l1),
    "rmse": PixelLossKind(rmse),
    "charbonnier": PixelLossKind(charbonnier),
    "ssim": PixelLossKind(ssim_loss, on_patches=True),
    "fft": PixelLossKind(fft_loss, on_patches=True),
}


def parse_loss_terms(spec: tuple[str, ...] | list[str]) -> list[tuple[str, float]]:
    """['l2:1.0', 'ssim:0.2'] (weight 1 when omitted) -> [('l2', 1.0), ('ssim', 0.2)]; ConfigError on a bad term."""
    terms = []
    for item in spec:
        name, _, weight = str(item).partition(":")
        if name not in PIXEL_LOSSES:
            raise ConfigError(f"--losses {item}: unknown loss '{name}' (choose from {', '.join(PIXEL_LOSSES)})")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise ConfigError(f"--losses {item}: the weight after ':' must be a number") from None
        if not value >= 0 or value == float("inf"):
            raise ConfigError(f"--losses {item}: the weight must be finite and >= 0")
        terms.append((name, value))
    if not terms:
        raise ConfigError("--losses: give at least one term, e.g. l2:1.0")
    return terms


class PixelLoss:
    """The configured weighted pixel losses: call with predictions and targets [n, C] -> {'<prefix>_<name>': weighted term}."""

    def __init__(self, spec: tuple[str, ...] | list[str] = ("l2:1.0",), colour_space: ColourSpace = "rgb", tone: ToneMap = "none", gamma: float = 2.2):
        self.terms = parse_loss_terms(spec)
        self.colour_space, self.tone, self.gamma = colour_space, tone, gamma

    @property
    def transforms_colours(self) -> bool:
        """Whether images are tone-mapped or converted before the loss (RGB images only)."""
        return (self.colour_space, self.tone) != ("rgb", "none")

    def _transform(self, x: Tensor) -> Tensor:
        return COLOUR_SPACES[self.colour_space](tone_map(x, self.tone, self.gamma)) if self.transforms_colours else x

    @property
    def needs_patches(self) -> bool:
        """Whether a term compares patches (the pixels must come as patches or whole images)."""
        return any(PIXEL_LOSSES[name].on_patches for name, _ in self.terms)

    def __call__(self, prediction: Tensor, target: Tensor, prefix: str = "color", patch: tuple[int, int] | None = None) -> dict[str, Tensor]:
        """Weighted terms for prediction/target [n, C]; patch (h, w): the n pixels form n / (h w) patches, row-major."""
        prediction, target = self._transform(prediction), self._transform(target)
        losses = {}
        for name, weight in self.terms:
            kind = PIXEL_LOSSES[name]
            if kind.on_patches:
                if patch is None:
                    raise ConfigError(f"--losses {name} compares patches: use --sampler patches (or images)")
                shape = (-1, patch[0], patch[1], prediction.shape[-1])
                value = kind.function(prediction.reshape(shape), target.reshape(shape))
            else:
                value = kind.function(prediction, target)
            losses[f"{prefix}_{name}"] = weight * value
        return losses
