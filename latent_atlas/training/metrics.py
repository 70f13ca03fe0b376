"""Image metrics on [0, 1] images: PSNR and SSIM."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def psnr(prediction: Tensor, target: Tensor) -> float:
    """PSNR in dB of images [..., C] in [0, 1]."""
    mse = torch.mean((prediction.float() - target.float()) ** 2).item()
    return float("inf") if mse == 0 else -10.0 * math.log10(mse)


def psnr_from_mse(mse: Tensor) -> Tensor:
    """PSNR in dB from a mean squared error (tensor, differentiable-free use in logs)."""
    return -10.0 * torch.log10(mse.clamp_min(1e-12))


def _gaussian_window(size: int, sigma: float, channels: int, device) -> Tensor:
    coords = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim(prediction: Tensor, target: Tensor, window: int = 11, sigma: float = 1.5) -> float:
    """SSIM of images [H, W, C] in [0, 1]: Gaussian 11x11 window (sigma 1.5), valid region, mean over channels."""
    x = prediction.float().permute(2, 0, 1)[None]
    y = target.float().permute(2, 0, 1)[None]
    c = x.shape[1]
    size = min(window, x.shape[-1], x.shape[-2])
    w = _gaussian_window(size, sigma, c, x.device)
    c1, c2 = 0.01**2, 0.03**2
    mu_x, mu_y = F.conv2d(x, w, groups=c), F.conv2d(y, w, groups=c)
    sxx = F.conv2d(x * x, w, groups=c) - mu_x**2
    syy = F.conv2d(y * y, w, groups=c) - mu_y**2
    sxy = F.conv2d(x * y, w, groups=c) - mu_x * mu_y
    value = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return value.mean().item()
