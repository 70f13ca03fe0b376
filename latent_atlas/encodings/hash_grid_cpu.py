"""The hash grid's native CPU kernel (hash_grid_cpu.c, built by latent_atlas.native): the fast CPU backend of
`interpolate_hash_grid`, whose pure-PyTorch path stays the reference (tests/encodings/test_hash_grid_cpu.py)."""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch
from torch import Tensor

from latent_atlas import native

SOURCE = Path(__file__).with_name("hash_grid_cpu.c")
_ARGS = [
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_int64,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int64,
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.c_int,
]


def load_library() -> ctypes.CDLL | None:
    """The compiled kernel (compiled on first use); None where no compiler can build it."""
    return native.load_kernel(SOURCE, {"hash_grid_forward": _ARGS, "hash_grid_backward": _ARGS})


def native_applies(table: Tensor, x: Tensor) -> bool:
    """Whether the native kernel serves this call: backend auto, CPU float32, no gradient wanted for the positions,
    and the kernel built."""
    return native.native_wanted(table, x) and not x.requires_grad and load_library() is not None


class _NativeHashGrid(torch.autograd.Function):
    """features [n, L * F] = trilinear hash-grid lookup of x [n, 3] in table [L * T, F]; gradient for the table only."""

    @staticmethod
    def forward(ctx, table: Tensor, x: Tensor, resolutions: Tensor, n_dense: int, table_size: int) -> Tensor:
        x, table = x.contiguous(), table.contiguous()  # bound to names: a pointer outlives no tensor
        resolutions = resolutions.to(torch.int32).contiguous()
        n_levels, features = resolutions.shape[0], table.shape[1]
        out = torch.empty(x.shape[0], n_levels * features, dtype=table.dtype)
        args = (x.shape[0], n_levels, n_dense, table_size, features)
        load_library().hash_grid_forward(x.data_ptr(), table.data_ptr(), resolutions.data_ptr(), *args, out.data_ptr(), native.threads())
        ctx.save_for_backward(x, resolutions)
        ctx.args = args
        ctx.table_rows = table.shape[0]
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, resolutions = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        grad_table = torch.empty(ctx.table_rows, ctx.args[-1], dtype=grad_out.dtype)
        load_library().hash_grid_backward(x.data_ptr(), grad_out.data_ptr(), resolutions.data_ptr(), *ctx.args, grad_table.data_ptr(), native.threads())
        return grad_table, None, None, None, None


def interpolate_native(table: Tensor, x: Tensor, resolutions: Tensor, n_dense: int, table_size: int) -> Tensor:
    """Hash grid features [n, L * F] of x [n, 3] from the flattened table [L * table_size, F], by the native kernel."""
    return _NativeHashGrid.apply(table, x, resolutions, n_dense, table_size)
