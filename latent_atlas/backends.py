"""Optional fast paths: the reference pure functions, compiled by torch.compile into fused kernels on CUDA.

A function decorated with `@accelerated` keeps its reference implementation (`fn.reference`) and
runs a compiled copy when the backend says so:

- "auto" (default): compiled for CUDA tensors where that was measured faster (`auto=True` at the
  decorator: the hash grid), the reference elsewhere (on CPU the compile costs more than it saves
  at our sizes; on CUDA the compiled volume-rendering weights ran slower, BENCHMARKS.md);
- "reference": always the reference path;
- "compiled": always compiled, also on CPU (for tests of the fast path).

Chosen by `--backend` on `latlas train` or the LATLAS_BACKEND environment variable. Nothing here
imports a CUDA-only package: torch.compile loads Triton only when a CUDA function is compiled.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from typing import TypeVar

import torch

BACKENDS = ("auto", "reference", "compiled")
ENV_VAR = "LATLAS_BACKEND"
F = TypeVar("F", bound=Callable)

_backend = os.environ.get(ENV_VAR, "auto")


def set_backend(name: str) -> None:
    """Selects the backend of every accelerated function: auto, reference or compiled."""
    global _backend
    if name not in BACKENDS:
        raise ValueError(f"backend '{name}': choose from {', '.join(BACKENDS)}")
    _backend = name


def get_backend() -> str:
    """The backend now in force."""
    return _backend


def wants_compiled(device: torch.device, auto: bool = True) -> bool:
    """Whether an accelerated function (compiled under auto when `auto`) on tensors of `device` runs compiled."""
    if _backend == "compiled":
        return True
    return _backend == "auto" and auto and device.type == "cuda"


def _first_tensor_device(args: tuple) -> torch.device:
    for value in args:
        if isinstance(value, torch.Tensor):
            return value.device
    return torch.device("cpu")


def accelerated(reference: F | None = None, *, auto: bool = True):
    """Decorator: `reference(*args)` or its torch.compile'd copy, by backend and the first tensor's device.

    `@accelerated(auto=False)`: compiled only with backend "compiled" (not measured faster on CUDA).
    The compiled copy is made on first use (dynamic shapes: ray counts change every step). If
    compiling fails, a warning is given once and the reference path is used from then on.
    """
    if reference is None:
        return functools.partial(accelerated, auto=auto)
    compiled: Callable | None = None
    failed = False

    @functools.wraps(reference)
    def dispatch(*args, **kwargs):
        nonlocal compiled, failed
        if failed or not wants_compiled(_first_tensor_device(args), auto):
            return reference(*args, **kwargs)
        if compiled is None:
            compiled = torch.compile(reference, dynamic=True)
        try:
            return compiled(*args, **kwargs)
        except Exception as exc:  # a compiler problem must never stop training: fall back, loudly
            failed = True
            warnings.warn(
                f"{reference.__module__}.{reference.__name__}: compiled path failed ({type(exc).__name__}: {exc}); using the reference path", stacklevel=2
            )
            return reference(*args, **kwargs)

    dispatch.reference = reference  # type: ignore[attr-defined]
    return dispatch  # type: ignore[return-value]
