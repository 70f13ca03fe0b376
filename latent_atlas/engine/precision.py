"""Mixed precision for training: which autocast dtype a run uses, and the context that applies it."""

from __future__ import annotations

import contextlib
from typing import Literal

import torch

from latent_atlas.errors import ConfigError

PRECISIONS = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}
"""--mixed-precision choices besides auto, and their autocast dtype (None: full fp32)."""


def resolve_precision(name: str, device: torch.device, bf16_on_cuda: bool = True) -> torch.dtype | None:
    """Autocast dtype for --mixed-precision `name` on `device`: auto = bf16 on CUDA (fp16 without bf16) when
    the method's `bf16_on_cuda`, else off."""
    if name == "auto":
        if device.type != "cuda" or not bf16_on_cuda:
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if name not in PRECISIONS:
        raise ConfigError(f"--mixed-precision {name}: choose from auto, {', '.join(PRECISIONS)}")
    if PRECISIONS[name] is not None and device.type != "cuda":
        raise ConfigError(f"--mixed-precision {name}: needs a CUDA device (training here runs on {device.type})")
    return PRECISIONS[name]


DecoderPrecision = Literal["fp32", "bf16", "auto"]
"""Choices of --decoder-precision / --latent.decoder-precision (decoder_autocast_dtype maps them to a dtype)."""


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX): elsewhere bf16 is emulated, and slower than fp32."""
    return torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def decoder_autocast_dtype(name: str, device: torch.device, flag: str = "--decoder-precision") -> torch.dtype | None:
    """Autocast dtype of a decoder precision: fp32 (None); bf16, refused on a CPU without bf16 units; auto: bf16 where
    the device computes it natively (a CUDA GPU with bf16, a CPU with AVX512-BF16 or AMX), else fp32. Errors name `flag`."""
    if name == "fp32":
        return None
    if name == "auto":
        native = torch.cuda.is_bf16_supported() if device.type == "cuda" else device.type == "cpu" and cpu_has_bf16()
        return torch.bfloat16 if native else None
    if name != "bf16":
        raise ConfigError(f"{flag} {name}: choose from fp32, bf16, auto")
    if device.type == "cpu" and not cpu_has_bf16():
        raise ConfigError(f"{flag} bf16: this CPU has no bf16 units (AVX512-BF16 or AMX); use fp32 or auto")
    return torch.bfloat16


def autocast(device: torch.device, dtype: torch.dtype | None):
    """torch.autocast in `dtype` on `device`, or a no-op context for full precision."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def grad_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """Loss scaler: active for fp16 only (bf16 and fp32 keep fp32's exponent range); a pass-through otherwise."""
    return torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
