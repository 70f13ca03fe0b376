"""Shift equivariance of an autoencoder: whether its latents can be interpolated like an image.

A latent NeRF renders each latent pixel as an average of field values along a ray, and neighbouring views see
each surface point at fractional latent-pixel offsets. It can only fit latents that behave like an image under
such shifts: the latents of an image moved by t pixels should be the latents of the original, resampled
t / f latent pixels over (encoder), and resampled latents should decode to the moved image (decoder).
A codec of 8 x 8 blocks (a PCA, or our patch_skip autoencoder trained for reconstruction alone) is neither:
its latents of a half-block shift differ from the interpolation by about their own standard deviation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from latent_atlas.spaces.autoencoder_kl import AutoencoderKL


def fractional_shift(values: Tensor, dy: float, dx: float) -> Tensor:
    """Bilinear resampling of values [B, C, h, w] at (row + dy, column + dx), dy, dx in [0, 1] -> [B, C, h-1, w-1]
    (the last row and column have no right-hand neighbour and are dropped)."""
    top = (1.0 - dx) * values[..., :-1, :-1] + dx * values[..., :-1, 1:]
    bottom = (1.0 - dx) * values[..., 1:, :-1] + dx * values[..., 1:, 1:]
    return (1.0 - dy) * top + dy * bottom


@dataclass
class EquivarianceTerms:
    """The two shift-equivariance errors of one batch (differentiable)."""

    decoder: Tensor
    """|D(shift(z)) - shift(x)|^2 with images in [-1, 1]: how well resampled latents decode."""
    encoder: Tensor
    """|E(shift(x)) - shift(E(x))|^2 / Var(E(x)) per channel, averaged over channels: how far the latents of a
    moved image are from resampled ones, relative to each channel's variance. Per channel, because latents are
    standardised per channel before a NeRF sees them (a low-variance channel that does not move with the image
    weighs as much as any other there), and so that shrinking the latents cannot lower it."""


def shift_equivariance(model: AutoencoderKL, wide: Tensor, size: int, ty: int, tx: int, latents: Tensor | None = None) -> EquivarianceTerms:
    """Equivariance errors for a shift of (ty, tx) pixels, 0 <= ty, tx <= f: wide [B, 3, size+f, size+f] in [-1, 1]
    holds x = wide[..., :size, :size] and the moved x' = wide[..., ty:ty+size, tx:tx+size]; `latents` are E(x)'s
    posterior means [B, C, size/f, size/f] when already computed."""
    f = model.downscale_factor
    if latents is None:
        latents = model.encode(wide[..., :size, :size])[0]
    moved = wide[..., ty : ty + size, tx : tx + size]
    resampled = fractional_shift(latents, ty / f, tx / f)
    decoded = model.decode(resampled)
    decoder = torch.mean((decoded - moved[..., : size - f, : size - f]) ** 2)
    moved_latents = model.encode(moved)[0][..., :-1, :-1]
    channel_error = ((moved_latents - resampled) ** 2).mean(dim=(0, 2, 3))
    encoder = torch.mean(channel_error / latents.detach().var(dim=(0, 2, 3)).clamp_min(1e-8))
    return EquivarianceTerms(decoder=decoder, encoder=encoder)


def view_consistency(target_latents: Tensor, source_latents: Tensor, grid: Tensor, mask: Tensor) -> Tensor:
    """How differently two views code the same surface points: |E(x_B) - E(x_A) resampled at B's points in A|^2 over
    the masked latent pixels, / Var(E(x_B)) per channel, averaged over channels (as EquivarianceTerms.encoder).

    target_latents, source_latents: [P, C, h, w] posterior means of views B and A; grid [P, h, w, 2] (grid_sample
    coordinates in A, align_corners=False) and mask [P, h, w] from data/synth/correspondence.py's view_pairs.
    """
    resampled = F.grid_sample(source_latents, grid, mode="bilinear", padding_mode="border", align_corners=False)
    weight = mask[:, None].to(target_latents.dtype)
    channel_error = (((target_latents - resampled) ** 2) * weight).sum(dim=(0, 2, 3)) / weight.sum().clamp_min(1.0)
    return torch.mean(channel_error / target_latents.detach().var(dim=(0, 2, 3)).clamp_min(1e-8))
