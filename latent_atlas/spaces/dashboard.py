"""The latent-space dashboard figure: renders and ground truth in latent channels and decoded to RGB."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def channel_grid(values: Tensor, width: int, lo: Tensor, hi: Tensor) -> Tensor:
    """Latent channels [h, w, C] as grey tiles in a ceil(sqrt(C))-column grid, `width` pixels wide: [H', width, 3].

    Each channel is stretched from lo[c] to hi[c] ([C]), so a render and its ground truth share one scale.
    """
    h, w, c = values.shape
    cols = math.ceil(math.sqrt(c))
    rows = math.ceil(c / cols)
    tile = max(width // cols, 1)
    scaled = ((values - lo) / (hi - lo).clamp_min(1e-6)).clamp(0, 1).permute(2, 0, 1)[:, None]  # [C, 1, h, w]
    tiles = F.interpolate(scaled, size=(tile * h // max(w, 1), tile), mode="nearest")[:, 0]  # [C, th, tw]
    th = tiles.shape[1]
    canvas = torch.ones(rows * th, width)
    for i in range(c):
        r, q = divmod(i, cols)
        canvas[r * th : (r + 1) * th, q * tile : (q + 1) * tile] = tiles[i]
    return canvas[..., None].expand(-1, -1, 3)


def latent_dashboard(render_latent: Tensor, decoded: Tensor, target: Tensor, target_latent: Tensor, reconstruction: Tensor) -> Tensor:
    """One figure [H', 3W, 3]: top row decoded render | ground truth | autoencoder reconstruction (each [H, W, 3]);
    below, the render's latent channels | the ground truth's latent channels ([h, w, C] each)."""
    height, width = target.shape[:2]
    top = torch.cat([decoded.cpu(), target.cpu(), reconstruction.cpu()], dim=1)
    lo = torch.minimum(render_latent.amin((0, 1)), target_latent.amin((0, 1))).cpu()
    hi = torch.maximum(render_latent.amax((0, 1)), target_latent.amax((0, 1))).cpu()
    half = (3 * width) // 2
    left = channel_grid(render_latent.cpu(), half, lo, hi)
    right = channel_grid(target_latent.cpu(), 3 * width - half, lo, hi)
    rows = max(left.shape[0], right.shape[0])
    pad = lambda x: torch.cat([x, torch.ones(rows - x.shape[0], x.shape[1], 3)]) if x.shape[0] < rows else x  # noqa: E731
    gap = torch.ones(2, 3 * width, 3)
    return torch.cat([top.clamp(0, 1), gap, torch.cat([pad(left), pad(right)], dim=1)], dim=0)


def rgb_dashboard(render: Tensor, target: Tensor, groups: dict[str, dict[str, float]]) -> Tensor:
    """One figure [H, 2W, 3]: render | ground truth."""
    return torch.cat([render.cpu(), target.cpu()], dim=1).clamp(0, 1)
