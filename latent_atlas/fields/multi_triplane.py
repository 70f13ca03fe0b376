"""Many Tri-Plane scenes with one shared decoder: scene-indexed plane tables, batched lookups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from latent_atlas.encodings.micro_macro import compose_planes
from latent_atlas.encodings.planes import triplane_features
from latent_atlas.fields.triplane_field import TriPlaneFieldConfig, decode_triplane, make_decoder


@dataclass
class MicroMacroConfig:
    """Micro-macro planes of Scaled-IG (DESIGN.md: micro [3, 10, 64, 64], M = 50 macro [3, 22, 64, 64])."""

    micro_channels: int = 10
    """Channels of each scene's own planes."""
    macro_channels: int = 22
    """Channels of the shared macro planes."""
    num_macro: int = 50
    """Number M of shared macro planes."""
    combination: Literal["concat", "sum"] = "concat"
    """concat (micro, mix) -> micro + macro channels, or sum (needs equal channel counts)."""
    init_std: float = 0.1
    """Micro and macro planes start as N(0, std^2); coefficients as N(0, 1 / M)."""


class _GatherRowsSparseGrad(torch.autograd.Function):
    """table[rows] whose gradient for the table is a sparse COO tensor holding only `rows`."""

    @staticmethod
    def forward(ctx, table: Tensor, rows: Tensor) -> Tensor:
        ctx.save_for_backward(rows)
        ctx.table_shape = table.shape
        return table[rows]

    @staticmethod
    def backward(ctx, grad: Tensor):
        (rows,) = ctx.saved_tensors
        return torch.sparse_coo_tensor(rows[None], grad, ctx.table_shape, check_invariants=False), None


def gather_rows(table: Tensor, rows: Tensor, sparse_grad: bool = False) -> Tensor:
    """table [N, ...] at distinct rows [B] -> [B, ...]; with sparse_grad the table's gradient is sparse (O(B), not O(N))."""
    return _GatherRowsSparseGrad.apply(table, rows) if sparse_grad else table[rows]


class PlaneTable(nn.Module):
    """Independent planes per scene: planes(scene_ids [B]) -> [B, 3, C, R, R]."""

    def __init__(self, num_scenes: int, channels: int, resolution: int, init_std: float):
        super().__init__()
        self.planes = nn.Parameter(torch.randn(num_scenes, 3, channels, resolution, resolution) * init_std)
        self.sparse_grad = False
        """Sparse gradients for the per-scene parameters (for RowAdam; torch's Adam needs dense ones)."""

    @property
    def channels(self) -> int:
        return self.planes.shape[2]

    def forward(self, scene_ids: Tensor) -> Tensor:
        return gather_rows(self.planes, scene_ids, self.sparse_grad)

    def scene_parameters(self) -> list[nn.Parameter]:
        """Parameters that belong to individual scenes."""
        return [self.planes]

    def shared_parameters(self) -> list[nn.Parameter]:
        """Parameters shared by every scene."""
        return []


class MicroMacroTable(nn.Module):
    """Micro planes, coefficients and bias per scene over shared macro planes: planes(scene_ids [B]) -> [B, 3, C, R, R]."""

    def __init__(self, num_scenes: int, cfg: MicroMacroConfig, resolution: int, macro: nn.Parameter | None = None):
        super().__init__()
        self.cfg = cfg
        r = resolution
        self.micro = nn.Parameter(torch.randn(num_scenes, 3, cfg.micro_channels, r, r) * cfg.init_std)
        self.coefficients = nn.Parameter(torch.randn(num_scenes, cfg.num_macro) / cfg.num_macro**0.5)
        self.bias = nn.Parameter(torch.zeros(num_scenes, cfg.macro_channels))
        self.macro = macro if macro is not None else nn.Parameter(torch.randn(cfg.num_macro, 3, cfg.macro_channels, r, r) * cfg.init_std)
        self.sparse_grad = False
        """Sparse gradients for the per-scene parameters (for RowAdam; torch's Adam needs dense ones)."""

    @property
    def channels(self) -> int:
        m = self.cfg
        return m.micro_channels + m.macro_channels if m.combination == "concat" else m.macro_channels

    def forward(self, scene_ids: Tensor) -> Tensor:
        micro, coefficients, bias = (gather_rows(t, scene_ids, self.sparse_grad) for t in (self.micro, self.coefficients, self.bias))
        return compose_planes(micro, coefficients, bias, self.macro, self.cfg.combination)

    def scene_parameters(self) -> list[nn.Parameter]:
        return [self.micro, self.coefficients, self.bias]

    def shared_parameters(self) -> list[nn.Parameter]:
        return [self.macro]


class MultiSceneTriPlaneField(nn.Module):
    """A plane table and one shared decoder: (scene_ids [B], positions [B, n, 3]) -> density [B, n], channels [B, n, C]."""

    def __init__(self, table: nn.Module, cfg: TriPlaneFieldConfig, channels: int):
        super().__init__()
        self.cfg = cfg
        self.table = table
        in_dim = table.channels * (3 if cfg.reduction == "concat" else 1)
        self.decoder = make_decoder(in_dim, cfg.hidden, channels)

    def forward(self, scene_ids: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
        features = triplane_features(self.table(scene_ids), positions, self.cfg.reduction)
        return decode_triplane(features, self.decoder)

    def for_scenes(self, scene_ids: Tensor):
        """A single-batch field function for render_field: positions [B * n, s, 3] (scene-major) -> [B * n, s], [B * n, s, C]."""

        def field(positions: Tensor, directions: Tensor) -> tuple[Tensor, Tensor]:
            rays, samples = positions.shape[:2]
            b = scene_ids.shape[0]
            density, color = self(scene_ids, positions.reshape(b, (rays // b) * samples, 3))
            return density.reshape(rays, samples), color.reshape(rays, samples, -1)

        return field
