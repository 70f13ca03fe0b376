"""Pixel losses between rendered and target channels (any space): pure functions of [n, C] or patches [P, h, w, C]."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor


def l2(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean squared error over all elements."""
    return torch.mean((prediction - target) ** 2)


def l1(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error."""
    return torch.mean(torch.abs(prediction - target))


def rmse(prediction: Tensor, target: Tensor) -> Tensor:
    """Root of the mean squared error."""
    return torch.sqrt(l2(prediction, target) + 1e-12)


def charbonnier(prediction: Tensor, target: Tensor, eps: float = 1e-3) -> Tensor:
    """Mean of sqrt(d^2 + eps^2): a smooth L1 (mip-NeRF 360's robust RMSE)."""
    return torch.mean(torch.sqrt((prediction - target) ** 2 + eps**2))


def gaussian_window(size: int, sigma: float, channels: int, device=None) -> Tensor:
    """Normalised 2D Gaussian kernel per channel: [channels, 1, size, size]."""
    coords = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim_value(x: Tensor, y: Tensor, window: int = 11, sigma: float = 1.5) -> Tensor:
    """Mean SSIM of image batches [B, C, H, W] in [0, 1] (Gaussian window, valid region), differentiable."""
    c = x.shape[1]
    size = min(window, x.shape[-1], x.shape[-2])
    w = gaussian_window(size, sigma, c, x.device).to(x.dtype)
    c1, c2 = 0.01**2, 0.03**2
    mu_x, mu_y = F.conv2d(x, w, groups=c), F.conv2d(y, w, groups=c)
    sxx = F.conv2d(x * x, w, groups=c) - mu_x**2
    syy = F.conv2d(y * y, w, groups=c) - mu_y**2
    sxy = F.conv2d(x * y, w, groups=c) - mu_x * mu_y
    return (((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))).mean()


def ssim_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """1 - SSIM of patches [P, h, w, C] (minimised: the patches grow similar; an 11-texel window, smaller on small patches)."""
    return 1.0 - ssim_value(prediction.permute(0, 3, 1, 2), target.permute(0, 3, 1, 2))


def fft_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean |rfft2(prediction) - rfft2(target)| over patches [P, h, w, C] (orthonormal FFT)."""
    a = torch.fft.rfft2(prediction.permute(0, 3, 1, 2).float(), norm="ortho")
    b = torch.fft.rfft2(target.permute(0, 3, 1, 2).float(), norm="ortho")
    return torch.mean(torch.abs(a - b))


ChannelWeighting = Literal["uniform", "decoder"]
"""How a latent loss weighs the channels: uniform, or decoder (each by the decoder's sensitivity to it)."""


def channel_weights(sensitivity: Tensor, floor: float) -> Tensor:
    """Loss weights [C] of a latent's channels from the decoder's sensitivity to each [C]: proportional to it, at
    least `floor` x the mean, normalised to mean 1."""
    weights = (sensitivity / sensitivity.mean().clamp_min(1e-12)).clamp_min(floor)
    return weights / weights.mean()
