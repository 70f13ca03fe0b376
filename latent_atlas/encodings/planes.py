"""Axis-aligned feature planes: tri-planes (EG3D) and multiscale k-planes, batched over scenes."""

from __future__ import annotations

import torch
from torch import Tensor

from latent_atlas.encodings.planes_cpu import fused_triplanes, sample_bilinear

# Coordinate pairs of the three planes: xy, xz, yz.
PLANE_AXES = ((0, 1), (0, 2), (1, 2))
REDUCTIONS = ("sum", "product", "concat")


def plane_coordinates(points: Tensor) -> Tensor:
    """Projections of points [B, n, 3] onto the xy, xz, yz planes: [B, 3, n, 2]."""
    return torch.stack([points[..., list(axes)] for axes in PLANE_AXES], dim=1)


def sample_planes(planes: Tensor, points: Tensor) -> Tensor:
    """Bilinear features of planes [B, 3, C, R, R] at points [B, n, 3] in [-1, 1]: [B, 3, n, C].

    Plane p is indexed (width, height) = its two axes in PLANE_AXES order;
    -1 and +1 are the centres of the border texels (align_corners=True).
    """
    b, p, c, h, w = planes.shape
    grid = plane_coordinates(points).reshape(b * p, -1, 2)
    sampled = sample_bilinear(planes.reshape(b * p, c, h, w), grid, padding_mode="border")
    return sampled.reshape(b, p, c, -1).permute(0, 1, 3, 2)


def reduce_planes(features: Tensor, reduction: str) -> Tensor:
    """Combines per-plane features [B, 3, n, C] into [B, n, C] (sum, product) or [B, n, 3C] (concat)."""
    if reduction == "sum":
        return features.sum(dim=1)
    if reduction == "product":
        return features.prod(dim=1)
    if reduction == "concat":
        return torch.cat(features.unbind(dim=1), dim=-1)
    raise ValueError(f"unknown plane reduction '{reduction}' (choose from {', '.join(REDUCTIONS)})")


def triplane_features(planes: Tensor, points: Tensor, reduction: str = "sum") -> Tensor:
    """Tri-plane lookup: planes [B, 3, C, R, R], points [B, n, 3] in [-1, 1] -> [B, n, C or 3C] (sum and product:
    one fused native pass on a CPU where it applies; sample_planes + reduce_planes, the reference, elsewhere)."""
    fused = fused_triplanes(planes, points, reduction)
    return fused if fused is not None else reduce_planes(sample_planes(planes, points), reduction)


def kplane_features(scales: list[Tensor], points: Tensor) -> Tensor:
    """Multiscale k-planes (static): per scale, product over the 3 planes; scales concatenated.

    scales: list of planes [B, 3, C, R_s, R_s]; points [B, n, 3] in [-1, 1] -> [B, n, C * len(scales)].
    """
    return torch.cat([triplane_features(planes, points, "product") for planes in scales], dim=-1)


def time_plane_features(planes: Tensor, points: Tensor, times: Tensor) -> Tensor:
    """Space-time planes (k-planes' xt, yt, zt): planes [B, 3, C, T, R], points [B, n, 3] and times [B, n, 1] in
    [-1, 1] -> the product of the three planes' bilinear features [B, n, C] (width axis: space, height: time)."""
    b, p, c, h, w = planes.shape
    grid = torch.stack([torch.cat([points[..., i : i + 1], times], dim=-1) for i in range(3)], dim=1).reshape(b * p, -1, 2)
    sampled = sample_bilinear(planes.reshape(b * p, c, h, w), grid, padding_mode="border")
    return sampled.reshape(b, p, c, -1).prod(dim=1).permute(0, 2, 1)
