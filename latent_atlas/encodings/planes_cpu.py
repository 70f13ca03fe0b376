"""Bilinear plane sampling's native CPU kernel (planes_cpu.c, built by latent_atlas.native): the fast CPU backend
of F.grid_sample(..., mode="bilinear", align_corners=True) for feature planes, with the gradient for the planes
only (tests/encodings/test_planes_cpu.py checks it against grid_sample)."""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from latent_atlas import native

SOURCE = Path(__file__).with_name("planes_cpu.c")
MIN_CHANNELS = 32
"""Planes with fewer channels keep F.grid_sample: forward + backward on a 2-core CPU (benchmarks/native_kernels.py),
native vs grid_sample: 3.3x at 48 channels, 1.9x at 32, 0.9-1.0x at 16, 0.75x on TensoRF's 16-channel lines."""
_ARGS = [ctypes.c_void_p, ctypes.c_void_p, *[ctypes.c_int64] * 5, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]


def load_library() -> ctypes.CDLL | None:
    """The compiled kernel (compiled on first use); None where no compiler can build it."""
    return native.load_kernel(SOURCE, {"planes_forward": _ARGS, "planes_backward": _ARGS})


class _NativePlanes(torch.autograd.Function):
    """[P, n, C] bilinear features of planes [P, C, H, W] at grid [P, n, 2]; gradient for the planes only."""

    @staticmethod
    def forward(ctx, planes: Tensor, grid: Tensor, border: bool) -> Tensor:
        grid = grid.contiguous()  # names keep every copy alive while the kernel reads it
        channels_last = planes.permute(0, 2, 3, 1).contiguous()  # [P, H, W, C]
        n_planes, channels, height, width = planes.shape
        out = torch.empty(n_planes, grid.shape[1], channels, dtype=planes.dtype)
        ctx.args = (n_planes, channels, height, width, grid.shape[1], int(border))
        load_library().planes_forward(channels_last.data_ptr(), grid.data_ptr(), *ctx.args, out.data_ptr(), native.threads())
        ctx.save_for_backward(grid)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        (grid,) = ctx.saved_tensors
        n_planes, channels, height, width = ctx.args[:4]
        grad_out = grad_out.contiguous()
        grad_planes = torch.empty(n_planes, height, width, channels, dtype=grad_out.dtype)
        load_library().planes_backward(grad_out.data_ptr(), grid.data_ptr(), *ctx.args, grad_planes.data_ptr(), native.threads())
        return grad_planes.permute(0, 3, 1, 2), None, None


def sample_bilinear(planes: Tensor, grid: Tensor, padding_mode: str = "zeros") -> Tensor:
    """Features [P, C, n] of planes [P, C, H, W] at grid [P, n, 2] ((width, height) in [-1, 1], align_corners=True):
    the native kernel where it applies (and pays: MIN_CHANNELS), else F.grid_sample (the reference, also for gradients w.r.t. the grid)."""
    if planes.shape[1] >= MIN_CHANNELS and native.native_wanted(planes, grid) and not grid.requires_grad and load_library() is not None:
        return _NativePlanes.apply(planes, grid, padding_mode == "border").permute(0, 2, 1)
    return F.grid_sample(planes, grid[:, :, None, :], mode="bilinear", padding_mode=padding_mode, align_corners=True)[..., 0]
