"""The torch device of a run and its peak memory."""

from __future__ import annotations

import ctypes
import ctypes.util
import resource
from functools import cache
from pathlib import Path

import torch

from latent_atlas.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """torch device for 'cpu', 'cuda' (or 'cuda:N') or 'auto'."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: CUDA is not available on this machine")
    if not (name == "cpu" or name.startswith("cuda")):
        raise ConfigError(f"--device {name}: expected cpu, cuda or auto")
    return torch.device(name)


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory of this run: CUDA allocator peak on GPU, else the process's peak RSS (MiB)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resident_peak_mb()


def live_memory_mb(device: torch.device) -> float:
    """Memory the run holds now (MiB): CUDA's allocated bytes on GPU, else the process's resident memory after
    release_free_memory (what its tensors and objects hold, without the allocator's free pages: on CPU the peak
    also counts those, 60-130 MiB at 16-256 scenes of stage 2, BENCHMARKS.md, session 51)."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device) / 2**20
    release_free_memory()
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resident_peak_mb()


def resident_peak_mb() -> float:
    """The process's peak resident memory (MiB): VmHWM of /proc/self/status where there is one (Linux), else
    ru_maxrss. ru_maxrss is not used on Linux: it keeps the parent's peak across fork + exec, so a run started by
    a large process (a benchmark script) would report that process's memory."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@cache
def _malloc_trim():
    """glibc's malloc_trim, or None (another C library)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    """Hands the C heap's free pages back to the system (glibc's malloc_trim; a no-op elsewhere). Loading scenes one
    after another leaves freed image buffers between small objects that stay, which the heap cannot give back: at
    256 scenes with the views on disk, 0.5 MiB per scene of free but resident memory (BENCHMARKS.md, session 51)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
