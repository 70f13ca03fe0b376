"""Native CPU kernels (C sources beside their Python modules): compiled once with the system C compiler, cached,
and called through ctypes.

They are the fast CPU backend of pure-PyTorch reference functions; tests check that both agree. No compiler or
a failed compile: `load_kernel` warns once and returns None, and callers use the reference path. Libraries are
cached under $LATLAS_KERNEL_CACHE (default ~/.cache/latent_atlas/kernels), keyed by the source's hash, and
written atomically (compiled to a temporary file, then renamed), so concurrent first uses never load half a file.
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

from latent_atlas.backends import get_backend

_loaded: dict[Path, ctypes.CDLL | None] = {}


def kernel_cache_dir() -> Path:
    """Folder of compiled kernels: $LATLAS_KERNEL_CACHE or ~/.cache/latent_atlas/kernels."""
    return Path(os.environ.get("LATLAS_KERNEL_CACHE") or Path.home() / ".cache" / "latent_atlas" / "kernels")


def compile_library(source: Path, target: Path) -> None:
    """Compiles the C file `source` (OpenMP, -O3) into the shared library `target`, atomically."""
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


def load_kernel(source: Path, signatures: dict[str, list]) -> ctypes.CDLL | None:
    """The library compiled from `source`, with ctypes argument types per function name; None (after one warning)
    where it cannot be built. Compiled on first use, then loaded from the cache."""
    if source in _loaded:
        return _loaded[source]
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    target = kernel_cache_dir() / f"{source.stem}-{digest}-{platform.machine()}.so"
    try:
        if not target.exists():
            compile_library(source, target)
        library = ctypes.CDLL(str(target))
        for name, argtypes in signatures.items():
            getattr(library, name).argtypes = argtypes
            getattr(library, name).restype = None
    except (OSError, AttributeError) as error:
        warnings.warn(f"{source.name}: no native CPU kernel ({error}); using the pure-PyTorch path", stacklevel=2)
        library = None
    _loaded[source] = library
    return library


def native_wanted(*tensors: torch.Tensor) -> bool:
    """Whether a native CPU kernel may serve a call on these tensors: backend auto, all on the CPU in float32."""
    return get_backend() == "auto" and all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors)


def threads() -> int:
    """Threads a kernel uses: torch's intra-op thread count."""
    return torch.get_num_threads()
