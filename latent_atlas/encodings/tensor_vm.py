"""TensoRF vector-matrix (VM) decomposition: sum over modes of plane(u, v) * line(w)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from latent_atlas.encodings.planes_cpu import fused_vm, sample_bilinear

# For each mode: the plane's two axes and the line's axis (TensoRF's order).
VM_MODES = (((0, 1), 2), ((0, 2), 1), ((1, 2), 0))


def vm_features(planes: Tensor, lines: Tensor, points: Tensor) -> Tensor:
    """VM features [n, 3R]: planes [3, R, N, N] and lines [3, R, N, 1] at points [n, 3] in [-1, 1].

    Mode m gives plane_m(x_u, x_v) * line_m(x_w) per component; modes are concatenated. One fused native pass on
    a CPU where it applies; the two samplings below (the reference) elsewhere.
    """
    fused = fused_vm(planes, lines, points)
    if fused is not None:
        return fused
    n = points.shape[0]
    plane_grid = torch.stack([points[:, list(uv)] for uv, _ in VM_MODES])  # [3, n, 2]
    line_coord = torch.stack([points[:, w] for _, w in VM_MODES])  # [3, n]
    line_grid = torch.stack([torch.zeros_like(line_coord), line_coord], dim=-1)  # [3, n, 2]
    plane_feat = sample_bilinear(planes, plane_grid)  # [3, R, n]
    line_feat = sample_bilinear(lines, line_grid)  # [3, R, n]
    return (plane_feat * line_feat).reshape(-1, n).T


def upsample_vm(planes: Tensor, lines: Tensor, resolution: int, lo: Tensor | None = None, hi: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Planes [3, R, N, N] and lines [3, R, N, 1] resampled (bilinear / linear) to `resolution` texels spanning the
    sub-box lo..hi [3] of their [-1, 1]^3 (default: all of it; a sub-box crops, as TensoRF's shrink)."""
    if lo is None or hi is None:
        new_planes = F.interpolate(planes, size=(resolution, resolution), mode="bilinear", align_corners=True)
        new_lines = F.interpolate(lines, size=(resolution, 1), mode="bilinear", align_corners=True)
        return new_planes, new_lines
    axes = [torch.linspace(float(lo[a]), float(hi[a]), resolution, device=planes.device, dtype=planes.dtype) for a in range(3)]
    new_planes, new_lines = [], []
    for mode, ((u, v), w) in enumerate(VM_MODES):
        gv, gu = torch.meshgrid(axes[v], axes[u], indexing="ij")  # rows follow v (height), columns u (width)
        plane_grid = torch.stack([gu, gv], dim=-1)[None]  # [1, N, N, 2]
        line_grid = torch.stack([torch.zeros_like(axes[w]), axes[w]], dim=-1)[None, :, None]  # [1, N, 1, 2]
        new_planes.append(F.grid_sample(planes[mode : mode + 1], plane_grid, mode="bilinear", align_corners=True))
        new_lines.append(F.grid_sample(lines[mode : mode + 1], line_grid, mode="bilinear", align_corners=True))
    return torch.cat(new_planes), torch.cat(new_lines)
