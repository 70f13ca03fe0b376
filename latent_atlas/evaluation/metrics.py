"""Image metrics on [0, 1] images: PSNR and SSIM, and the 8-bit quantisation NeRFBaselines computes them on."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from latent_atlas.losses.pixel import ssim_value


def psnr(prediction: Tensor, target: Tensor) -> float:
    """PSNR in dB of images [..., C] in [0, 1]."""
    mse = torch.mean((prediction.float() - target.float()) ** 2).item()
    return float("inf") if mse == 0 else -10.0 * math.log10(mse)


def psnr_from_mse(mse: Tensor) -> Tensor:
    """PSNR in dB from a mean squared error (tensor, differentiable-free use in logs)."""
    return -10.0 * torch.log10(mse.clamp_min(1e-12))


def quantise_8bit(image: Tensor) -> Tensor:
    """An image [..., C] in [0, 1] as it would be saved to an 8-bit PNG: round(x * 255) / 255."""
    return (image.float().clamp(0, 1) * 255.0).round() / 255.0


def ssim(prediction: Tensor, target: Tensor, window: int = 11, sigma: float = 1.5) -> float:
    """SSIM of images [H, W, C] in [0, 1]: Gaussian 11x11 window (sigma 1.5), valid region, mean over channels."""
    x = prediction.float().permute(2, 0, 1)[None]
    y = target.float().permute(2, 0, 1)[None]
    return ssim_value(x, y, window, sigma).item()
