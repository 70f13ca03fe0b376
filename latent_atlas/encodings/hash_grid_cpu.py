"""The hash grid's native CPU kernel (hash_grid_cpu.c): compiled once with the system C compiler, called via ctypes.

The fast backend of `interpolate_hash_grid` on CPU float32 tensors; the pure-PyTorch path stays the reference
(tests/encodings/test_hash_grid_cpu.py checks they agree). No compiler, a failed compile or
LATLAS_BACKEND=reference: the reference path, with one warning in the first two cases. The shared library is
cached under $LATLAS_KERNEL_CACHE (default ~/.cache/latent_atlas/kernels), keyed by the source's hash, and
written atomically, so concurrent first uses do not see a half-written file.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import torch
from torch import Tensor

SOURCE = Path(__file__).with_name("hash_grid_cpu.c")
_library: ctypes.CDLL | None = None
_tried = False


def kernel_cache_dir() -> Path:
    """Folder of compiled kernels: $LATLAS_KERNEL_CACHE or ~/.cache/latent_atlas/kernels."""
    return Path(os.environ.get("LATLAS_KERNEL_CACHE") or Path.home() / ".cache" / "latent_atlas" / "kernels")


def _compile(source: Path, target: Path) -> None:
    """Compiles `source` into the shared library `target` (atomically: a temporary file renamed into place)."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise OSError("no C compiler (cc or gcc) on PATH")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".so", delete=False) as tmp:
        partial = Path(tmp.name)
    try:
        cmd = [compiler, "-O3", "-fopenmp", "-shared", "-fPIC", "-o", str(partial), str(source), "-lm"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise OSError(f"{' '.join(cmd)} failed: {proc.stderr.strip()[-500:]}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def load_library() -> ctypes.CDLL | None:
    """The compiled kernel, compiling it on first use; None (after one warning) where that is impossible."""
    global _library, _tried
    if _tried:
        return _library
    _tried = True
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    target = kernel_cache_dir() / f"hash_grid_cpu-{digest}-{platform.machine()}.so"
    try:
        if not target.exists():
            _compile(SOURCE, target)
        library = ctypes.CDLL(str(target))
    except OSError as error:
        warnings.warn(f"hash grid: no native CPU kernel ({error}); using the pure-PyTorch path", stacklevel=2)
        return None
    pointer, i64, i32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
    for name in ("hash_grid_forward", "hash_grid_backward"):
        getattr(library, name).argtypes = [pointer, pointer, pointer, i64, i32, i32, i64, i32, pointer, i32]
        getattr(library, name).restype = None
    _library = library
    return library


def native_applies(table: Tensor, x: Tensor) -> bool:
    """Whether the native kernel can serve this call: CPU float32, no gradient wanted for the positions."""
    return table.device.type == "cpu" and table.dtype == torch.float32 and x.dtype == torch.float32 and not x.requires_grad


class _NativeHashGrid(torch.autograd.Function):
    """features [n, L * F] = trilinear hash-grid lookup of x [n, 3] in table [L * T, F]; gradient for the table only."""

    @staticmethod
    def forward(ctx, table: Tensor, x: Tensor, resolutions: Tensor, n_dense: int, table_size: int) -> Tensor:
        library = load_library()
        x = x.contiguous()
        resolutions = resolutions.to(torch.int32).contiguous()
        n_levels, features = resolutions.shape[0], table.shape[1]
        out = torch.empty(x.shape[0], n_levels * features, dtype=table.dtype)
        args = (x.shape[0], n_levels, n_dense, table_size, features)
        library.hash_grid_forward(x.data_ptr(), table.contiguous().data_ptr(), resolutions.data_ptr(), *args, out.data_ptr(), torch.get_num_threads())
        ctx.save_for_backward(x, resolutions)
        ctx.args = args
        ctx.table_rows = table.shape[0]
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, resolutions = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        features = ctx.args[-1]
        grad_table = torch.empty(ctx.table_rows, features, dtype=grad_out.dtype)
        load_library().hash_grid_backward(x.data_ptr(), grad_out.data_ptr(), resolutions.data_ptr(), *ctx.args, grad_table.data_ptr(), torch.get_num_threads())
        return grad_table, None, None, None, None


def interpolate_native(table: Tensor, x: Tensor, resolutions: Tensor, n_dense: int, table_size: int) -> Tensor:
    """Hash grid features [n, L * F] of x [n, 3] from the flattened table [L * table_size, F], by the native kernel."""
    return _NativeHashGrid.apply(table, x, resolutions, n_dense, table_size)
