"""Occupancy grid for empty-space skipping, updated from the field's density during training (as nerfacc)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class OccupancyGrid(nn.Module):
    """A res^3 grid over the box: EMA of opacity per cell, and a binary mask of cells to march through.

    A cell is occupied when its EMA opacity (density * step) is above min(mean, threshold);
    the mask is dilated by one cell so that samples near occupied cells are never skipped.
    """

    def __init__(self, box_min: Tensor, box_max: Tensor, resolution: int = 128, decay: float = 0.95, threshold: float = 0.01):
        super().__init__()
        self.resolution = resolution
        self.decay = decay
        self.threshold = threshold
        self.register_buffer("box_min", box_min.clone().float())
        self.register_buffer("box_max", box_max.clone().float())
        self.register_buffer("opacity", torch.zeros(resolution**3))
        self.register_buffer("occupied", torch.ones(resolution**3, dtype=torch.bool))

    def cell_index(self, points: Tensor) -> Tensor:
        """Flat cell index [m] of points [m, 3] (clamped into the grid)."""
        unit = (points - self.box_min) / (self.box_max - self.box_min)
        ijk = (unit * self.resolution).long().clamp(0, self.resolution - 1)
        r = self.resolution
        return (ijk[:, 0] * r + ijk[:, 1]) * r + ijk[:, 2]

    def query(self, points: Tensor) -> Tensor:
        """Whether points [m, 3] lie in occupied cells: bool [m]."""
        return self.occupied[self.cell_index(points)]

    @torch.no_grad()
    def update(self, density_fn, step_size: float, all_cells: bool, generator: torch.Generator | None = None) -> None:
        """Re-evaluates opacity at a random point of each chosen cell (all, or occupied + a random quarter)."""
        r, device = self.resolution, self.opacity.device
        n = r**3
        if all_cells:
            cells = torch.arange(n, device=device)
        else:
            random_cells = torch.randint(0, n, (n // 4,), device=device)
            cells = torch.cat([self.occupied.nonzero()[:, 0], random_cells])
        ijk = torch.stack([cells // (r * r), (cells // r) % r, cells % r], dim=-1).float()
        jitter = torch.rand(ijk.shape, device=device)
        points = self.box_min + (ijk + jitter) / r * (self.box_max - self.box_min)
        opacity = torch.empty(cells.shape[0], device=device)
        for start in range(0, cells.shape[0], 2**18):
            opacity[start : start + 2**18] = density_fn(points[start : start + 2**18]) * step_size
        decayed = self.opacity * self.decay
        decayed[cells] = torch.maximum(decayed[cells], opacity)
        self.opacity = decayed
        threshold = min(self.opacity.mean().item(), self.threshold)
        occupied = (self.opacity > threshold).float().reshape(1, 1, r, r, r)
        self.occupied = F.max_pool3d(occupied, 3, stride=1, padding=1).reshape(-1) > 0


def corner_cells(mask: Tensor) -> Tensor:
    """Cells [D-1, H-1, W-1] (bool) between the voxels of a mask [D, H, W] that have an occupied corner voxel."""
    return F.max_pool3d(mask[None, None].float(), kernel_size=2, stride=1)[0, 0] > 0


def trilinear_nonzero(cells: Tensor, points: Tensor) -> Tensor:
    """Whether the trilinear interpolation of a 0/1 voxel mask is > 0 at points [m, 3] ((x, y, z) in [-1, 1],
    align_corners=True): bool [m], read from its corner_cells [D-1, H-1, W-1]. Exact wherever no coordinate
    falls on a voxel plane; points outside the grid take the nearest cell (a mask is kept, never dropped)."""
    sizes = torch.tensor([cells.shape[2], cells.shape[1], cells.shape[0]], device=points.device)  # cells along x, y, z
    index = ((points + 1.0) * 0.5 * sizes).long()
    index = torch.minimum(index.clamp_min(0), sizes - 1)
    return cells[index[:, 2], index[:, 1], index[:, 0]]
