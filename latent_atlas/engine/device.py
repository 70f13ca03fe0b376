"""The torch device of a run and its peak memory."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
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
    resident = _process_status_mb("VmRSS")
    return resident_peak_mb() if resident is None else resident


def _process_status_mb(field: str) -> float | None:
    """A memory field of /proc/self/status (VmRSS, VmHWM, ...) in MiB, or None where there is none (not Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def resident_peak_mb() -> float:
    """The process's peak resident memory (MiB): VmHWM of /proc/self/status where there is one (Linux), else
    ru_maxrss. ru_maxrss is not used on Linux: it keeps the parent's peak across fork + exec, so a run started by
    a large process (a benchmark script) would report that process's memory."""
    peak = _process_status_mb("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0 if peak is None else peak


@cache
def _glibc():
    """The C library where it is glibc (with malloc_trim and mallopt), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim, libc.mallopt  # noqa: B018 (AttributeError elsewhere)
        return libc
    except (OSError, AttributeError):
        return None


M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -2, -3, -8  # glibc's mallopt parameters


def tune_allocator() -> bool:
    """Has glibc keep freed memory for reuse instead of handing it back to the system after every step (returns
    whether it did). By default a training step's activations (dozens of 1-2 MiB tensors) were mapped, faulted in
    page by page and returned each step: 20-23 M page faults and 32-37 s of system time in a 2-epoch, 256-scene
    RGB Tri-Planes run; tuned, 5.2-5.6 M, 9 s and 0.83x the training time (BENCHMARKS.md, session 51). Resident memory
    then stays at its peak (release_free_memory still hands it back). Skipped where MALLOC_* variables are set
    (the user's own tuning), with LATLAS_TUNE_MALLOC=0, and outside glibc."""
    if os.environ.get("LATLAS_TUNE_MALLOC", "1") == "0" or any(k.startswith("MALLOC_") for k in os.environ):
        return False
    libc = _glibc()
    if libc is None:
        return False
    for param, value in ((M_TRIM_THRESHOLD, 2**31 - 1), (M_MMAP_THRESHOLD, 32 << 20), (M_TOP_PAD, 64 << 20), (M_ARENA_MAX, 2)):
        libc.mallopt(param, value)
    return True


def release_free_memory() -> None:
    """Hands the C heap's free pages back to the system (glibc's malloc_trim; a no-op elsewhere). Loading scenes one
    after another leaves freed image buffers between small objects that stay, which the heap cannot give back: at
    256 scenes with the views on disk, 0.5 MiB per scene of free but resident memory (BENCHMARKS.md, session 51)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
