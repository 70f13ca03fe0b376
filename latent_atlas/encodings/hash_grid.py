"""Multiresolution hash grid encoding (instant-ngp), pure PyTorch."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latent_atlas.backends import accelerated
from latent_atlas.encodings import hash_grid_cpu

# Spatial hash primes of instant-ngp (Teschner et al.): x * 1 ^ y * p1 ^ z * p2.
HASH_PRIMES = (1, 2654435761, 805459861)
# The 8 corners of a unit cube, [8, 3].
CUBE_CORNERS = torch.tensor([[i >> 2 & 1, i >> 1 & 1, i & 1] for i in range(8)])


@dataclass
class HashGridConfig:
    """Multiresolution hash grid."""

    n_levels: int = 16
    """Resolution levels."""
    features_per_level: int = 2
    """Features stored per grid vertex and level."""
    log2_hashmap_size: int = 19
    """log2 of the table size per level (levels with fewer vertices are indexed densely)."""
    base_resolution: int = 16
    """Grid resolution of the coarsest level."""
    max_resolution: int = 2048
    """Grid resolution of the finest level."""
    init_scale: float = 1e-4
    """Table entries start uniform in [-init_scale, init_scale]."""


def level_resolutions(cfg: HashGridConfig) -> list[int]:
    """Grid resolution of each level, growing geometrically from base to max."""
    if cfg.n_levels == 1:
        return [cfg.base_resolution]
    growth = math.exp((math.log(cfg.max_resolution) - math.log(cfg.base_resolution)) / (cfg.n_levels - 1))
    return [int(math.floor(cfg.base_resolution * growth**level + 1e-6)) for level in range(cfg.n_levels)]


def grid_indices(corners: Tensor, resolution: Tensor, table_size: int) -> Tensor:
    """Table index of integer grid vertices corners [..., 3] at per-level resolution [L] (broadcast on dim -2).

    Levels whose (res + 1)^3 vertices fit the table are indexed densely, the others hashed.
    """
    side = (resolution + 1)[:, None]  # [L, 1]
    dense = corners[..., 0] + corners[..., 1] * side + corners[..., 2] * side * side
    hashed = (corners[..., 0] * HASH_PRIMES[0]) ^ (corners[..., 1] * HASH_PRIMES[1]) ^ (corners[..., 2] * HASH_PRIMES[2])
    hashed = hashed & (table_size - 1)
    use_dense = side**3 <= table_size
    return torch.where(use_dense, dense, hashed)


class _GatherRows(torch.autograd.Function):
    """rows = table[index] with a scatter-add backward (several times faster on CPU than embedding's)."""

    @staticmethod
    def forward(ctx, table: Tensor, index: Tensor) -> Tensor:
        ctx.save_for_backward(index)
        ctx.n_rows = table.shape[0]
        return F.embedding(index, table)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (index,) = ctx.saved_tensors
        width = grad.shape[-1]
        grad_table = torch.zeros(ctx.n_rows, width, dtype=grad.dtype, device=grad.device)
        grad_table.index_add_(0, index.reshape(-1).long(), grad.reshape(-1, width))  # int64: much faster here
        return grad_table, None


def gather_rows(table: Tensor, index: Tensor) -> Tensor:
    """table [R, F] rows at index [...] -> [..., F], differentiable in table."""
    if table.device.type == "cpu":
        return _GatherRows.apply(table, index)
    return F.embedding(index, table)  # GPU: the built-in gather / atomic scatter-add, which the compiler fuses


def _corner_combinations(per_axis: Tensor, combine) -> Tensor:
    """per_axis [n, L, 3, 2] (value of each axis at its lower/upper corner) -> [n, L, 8] in CUBE_CORNERS order."""
    x, y, z = per_axis[:, :, 0], per_axis[:, :, 1], per_axis[:, :, 2]  # [n, L, 2]
    xy = combine(x[:, :, :, None], y[:, :, None, :])  # [n, L, 2, 2]
    return combine(xy[:, :, :, :, None], z[:, :, None, None, :]).flatten(2)


class HashGridEncoding(nn.Module):
    """x [n, 3] in [0, 1]^3 -> trilinearly interpolated features [n, n_levels * features_per_level]."""

    def __init__(self, cfg: HashGridConfig):
        super().__init__()
        self.cfg = cfg
        self.table_size = 2**cfg.log2_hashmap_size
        resolutions = level_resolutions(cfg)
        self.n_dense = sum((r + 1) ** 3 <= self.table_size for r in resolutions)  # dense levels come first
        self.register_buffer("resolutions", torch.tensor(resolutions), persistent=False)
        self.register_buffer("corner_offsets", CUBE_CORNERS.clone(), persistent=False)
        # int32 index arithmetic (half the memory traffic of int64): products wrap modulo 2^32,
        # which keeps the low log2_hashmap_size bits that the hash uses.
        self.index_dtype = torch.int32 if cfg.n_levels * self.table_size < 2**31 else torch.long
        primes32 = [p - 2**32 if p >= 2**31 else p for p in HASH_PRIMES]
        self.register_buffer("primes", torch.tensor(primes32 if self.index_dtype == torch.int32 else HASH_PRIMES, dtype=self.index_dtype), persistent=False)
        self.register_buffer("level_offsets", (torch.arange(cfg.n_levels) * self.table_size).to(self.index_dtype), persistent=False)
        table = torch.empty(cfg.n_levels, self.table_size, cfg.features_per_level)
        self.table = nn.Parameter(table.uniform_(-cfg.init_scale, cfg.init_scale))

    @property
    def out_dim(self) -> int:
        return self.cfg.n_levels * self.cfg.features_per_level

    def corner_indices_reference(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Slow, direct path: table rows [n, L, 8] and trilinear weights [n, L, 8] (used to test the fast path)."""
        scaled = x.clamp(0.0, 1.0)[:, None, :] * self.resolutions[:, None].to(x.dtype)
        base = scaled.floor().long().clamp_max(self.resolutions[:, None] - 1)
        frac = scaled - base.to(x.dtype)
        corners = base[:, :, None, :] + self.corner_offsets
        index = grid_indices(corners, self.resolutions, self.table_size) + self.level_offsets[None, :, None].long()
        off = self.corner_offsets.to(x.dtype)
        weights = torch.where(off.bool(), frac[:, :, None, :], 1.0 - frac[:, :, None, :]).prod(dim=-1)
        return index, weights

    def corner_indices(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Table rows [n, L, 8] and trilinear weights [n, L, 8], computed per axis then combined."""
        return hash_corner_indices(x, self.resolutions, self.primes, self.level_offsets, self.n_dense, self.table_size)

    def forward(self, x: Tensor) -> Tensor:
        table = self.table.reshape(-1, self.cfg.features_per_level)
        if hash_grid_cpu.native_applies(table, x):
            return hash_grid_cpu.interpolate_native(table, x, self.resolutions, self.n_dense, self.table_size)
        return interpolate_hash_grid(table, x, self.resolutions, self.primes, self.level_offsets, self.n_dense, self.table_size)


def hash_corner_indices(x: Tensor, resolutions: Tensor, primes: Tensor, level_offsets: Tensor, n_dense: int, table_size: int) -> tuple[Tensor, Tensor]:
    """Rows [n, L, 8] of the flattened [L * table_size] table and trilinear weights [n, L, 8] for x [n, 3] in [0, 1]^3.

    The first `n_dense` levels are indexed densely, the rest hashed; index arithmetic is in primes' dtype.
    """
    index_dtype = primes.dtype
    scaled = x.clamp(0.0, 1.0)[:, None, :] * resolutions[:, None].to(x.dtype)  # [n, L, 3]
    base = scaled.floor().to(index_dtype).clamp_max(resolutions[:, None].to(index_dtype) - 1)
    frac = scaled - base.to(x.dtype)
    axis_weights = torch.stack([1.0 - frac, frac], dim=-1)  # [n, L, 3, 2]
    weights = _corner_combinations(axis_weights, torch.mul)
    coords = torch.stack([base, base + 1], dim=-1)  # [n, L, 3, 2]
    parts = []
    if n_dense > 0:
        side = (resolutions[:n_dense] + 1).to(index_dtype)[None, :, None, None]
        strides = torch.stack([torch.ones_like(side), side, side * side], dim=2)[..., 0, :]  # [1, d, 3, 1]
        parts.append(_corner_combinations(coords[:, :n_dense] * strides, torch.add))
    if n_dense < resolutions.shape[0]:
        hashed = _corner_combinations(coords[:, n_dense:] * primes[None, None, :, None], torch.bitwise_xor)
        parts.append(hashed & (table_size - 1))
    index = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
    return index + level_offsets[None, :, None], weights


@accelerated
def interpolate_hash_grid(table: Tensor, x: Tensor, resolutions: Tensor, primes: Tensor, level_offsets: Tensor, n_dense: int, table_size: int) -> Tensor:
    """Hash grid features [n, L * F] of x [n, 3] in [0, 1]^3, from the flattened table [L * table_size, F]."""
    index, weights = hash_corner_indices(x, resolutions, primes, level_offsets, n_dense, table_size)
    features = gather_rows(table, index)  # [n, L, 8, F]
    return torch.einsum("nlcf,nlc->nlf", features, weights).reshape(x.shape[0], -1)
