"""On-disk cache of encoded images, keyed by the images' pixels and the autoencoder's fingerprint."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor


def default_cache_dir() -> Path:
    """$LATLAS_CACHE_DIR, else ~/.cache/latent-atlas/latents."""
    env = os.environ.get("LATLAS_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "latent-atlas" / "latents"


def images_key(images: Tensor, extra: dict) -> str:
    """Key of a stack of images [N, H, W, C] by content (dtype, shape, every byte) plus `extra` settings: the same
    pixels give the same key wherever their files lie (a scene copied into another dataset reads its latents from
    the cache), and one changed pixel gives another."""
    digest = hashlib.sha256(json.dumps({**extra, "dtype": str(images.dtype), "shape": list(images.shape)}, sort_keys=True).encode())
    digest.update(memoryview(images.detach().cpu().contiguous().flatten().view(torch.uint8).numpy()))
    return digest.hexdigest()[:24]


class LatentCache:
    """get/put tensors by key as <dir>/<key>.safetensors (written through a temporary file)."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder is not None else default_cache_dir()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Tensor | None:
        """The cached tensor, or None (a missing or unreadable entry is a miss)."""
        path = self.folder / f"{key}.safetensors"
        if path.is_file():
            try:
                value = load_file(str(path))["value"]
                self.hits += 1
                return value
            except Exception:
                path.unlink(missing_ok=True)
        self.misses += 1
        return None

    def put(self, key: str, value: Tensor) -> None:
        """Stores `value` under `key`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{key}.{os.getpid()}.tmp"
        save_file({"value": value.detach().contiguous().cpu()}, str(tmp))
        tmp.replace(self.folder / f"{key}.safetensors")


def cached(cache: LatentCache, key: str, compute) -> Tensor:
    """cache.get(key), else compute() stored under key."""
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.put(key, value)
    return value
