"""Bilinear plane sampling's native CPU kernels (planes_cpu.c, built by latent_atlas.native): the fast CPU backend
of F.grid_sample(..., mode="bilinear", align_corners=True) for feature planes, alone (sample_bilinear), fused
over a tri-plane's three planes (fused_triplanes) and over TensoRF's planes and lines (fused_vm); gradients for
the planes only (tests/encodings/test_planes_cpu.py checks them against grid_sample)."""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from latent_atlas import native

SOURCE = Path(__file__).with_name("planes_cpu.c")
MIN_CHANNELS = 32
"""Single planes with fewer channels keep F.grid_sample (now only k-planes' space-time planes: static tri-planes,
k-planes and TensoRF's VM go through the fused kernels): forward + backward on a 2-core CPU
(benchmarks/native_kernels.py), native vs grid_sample: 3.3x at 48 channels, 1.9x at 32, 0.9-1.0x at 16 on one
machine, 1.9-2.5x at 16 on another of the same CPU model string (BENCHMARKS.md)."""
_ARGS = [ctypes.c_void_p, ctypes.c_void_p, *[ctypes.c_int64] * 5, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
_TRIPLANE_FORWARD = [ctypes.c_void_p, ctypes.c_void_p, *[ctypes.c_int64] * 4, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
_TRIPLANE_BACKWARD = [ctypes.c_void_p, *_TRIPLANE_FORWARD]
_VM_FORWARD = [*[ctypes.c_void_p] * 3, *[ctypes.c_int64] * 3, ctypes.c_void_p, ctypes.c_int]
_VM_BACKWARD = [*[ctypes.c_void_p] * 4, *[ctypes.c_int64] * 3, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]


def load_library() -> ctypes.CDLL | None:
    """The compiled kernel (compiled on first use); None where no compiler can build it."""
    signatures = {
        "planes_forward": _ARGS,
        "planes_backward": _ARGS,
        "triplane_forward": _TRIPLANE_FORWARD,
        "triplane_backward": _TRIPLANE_BACKWARD,
        "vm_forward": _VM_FORWARD,
        "vm_backward": _VM_BACKWARD,
    }
    return native.load_kernel(SOURCE, signatures)


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


class _NativeTriplanes(torch.autograd.Function):
    """[B, n, C]: the sum or product of planes [B, 3, C, R, R]'s bilinear features at points [B, n, 3] (border
    padding); gradient for the planes only."""

    @staticmethod
    def forward(ctx, planes: Tensor, points: Tensor, product: bool) -> Tensor:
        points = points.contiguous()  # names keep every copy alive while the kernel reads it
        channels_last = planes.permute(0, 1, 3, 4, 2).contiguous()  # [B, 3, R, R, C]
        batch, _, channels, side, _ = planes.shape
        out = torch.empty(batch, points.shape[1], channels, dtype=planes.dtype)
        ctx.args = (batch, channels, side, points.shape[1], int(product))
        load_library().triplane_forward(channels_last.data_ptr(), points.data_ptr(), *ctx.args, out.data_ptr(), native.threads())
        ctx.save_for_backward(channels_last, points)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        channels_last, points = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        grad_planes = torch.empty_like(channels_last)
        lib = load_library()
        lib.triplane_backward(grad_out.data_ptr(), channels_last.data_ptr(), points.data_ptr(), *ctx.args, grad_planes.data_ptr(), native.threads())
        return grad_planes.permute(0, 1, 4, 2, 3), None, None


def fused_triplanes(planes: Tensor, points: Tensor, reduction: str) -> Tensor | None:
    """[B, n, C]: tri-planes [B, 3, C, R, R] sampled at points [B, n, 3] in [-1, 1] and reduced ('sum' or
    'product') in one native pass; None where the kernel does not apply (then the caller takes the reference)."""
    square = planes.shape[-1] == planes.shape[-2] and planes.shape[1] == 3
    if reduction not in ("sum", "product") or not square or points.requires_grad or not native.native_wanted(planes, points) or load_library() is None:
        return None
    return _NativeTriplanes.apply(planes, points, reduction == "product")


class _NativeVM(torch.autograd.Function):
    """[n, 3R] TensoRF VM features (plane_m * line_m per mode, zeros padding) of planes [3, R, N, N] and lines
    [3, R, N, 1] at points [n, 3]; gradients for the planes and lines only."""

    @staticmethod
    def forward(ctx, planes: Tensor, lines: Tensor, points: Tensor) -> Tensor:
        points = points.contiguous()  # names keep every copy alive while the kernel reads it
        planes_last = planes.permute(0, 2, 3, 1).contiguous()  # [3, N, N, R]
        lines_last = lines[..., 0].permute(0, 2, 1).contiguous()  # [3, N, R]
        rank, side = planes.shape[1], planes.shape[2]
        out = torch.empty(points.shape[0], 3 * rank, dtype=planes.dtype)
        ctx.args = (rank, side, points.shape[0])
        load_library().vm_forward(planes_last.data_ptr(), lines_last.data_ptr(), points.data_ptr(), *ctx.args, out.data_ptr(), native.threads())
        ctx.save_for_backward(planes_last, lines_last, points)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        planes_last, lines_last, points = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        grad_planes, grad_lines = torch.empty_like(planes_last), torch.empty_like(lines_last)
        lib = load_library()
        ptrs = (grad_out.data_ptr(), planes_last.data_ptr(), lines_last.data_ptr(), points.data_ptr())
        lib.vm_backward(*ptrs, *ctx.args, grad_planes.data_ptr(), grad_lines.data_ptr(), native.threads())
        return grad_planes.permute(0, 3, 1, 2), grad_lines.permute(0, 2, 1)[..., None], None


def fused_vm(planes: Tensor, lines: Tensor, points: Tensor) -> Tensor | None:
    """VM features [n, 3R] of planes [3, R, N, N] and lines [3, R, N, 1] at points [n, 3] in [-1, 1] in one native
    pass; None where the kernel does not apply (then the caller takes the reference)."""
    square = planes.shape[-1] == planes.shape[-2] == lines.shape[-2] and lines.shape[-1] == 1
    if not square or points.requires_grad or not native.native_wanted(planes, lines, points) or load_library() is None:
        return None
    return _NativeVM.apply(planes, lines, points)
