"""Training pixels: scattered random rays, square patches, or whole images, with their frames' metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from latent_atlas.data.scene import SceneSplit, to_float

SamplerName = Literal["rays", "patches", "images"]
"""--sampler choices: rays (uniform over all pixels), patches (square patches, for SSIM/FFT losses), images (one whole view)."""


@dataclass
class PixelBatch:
    """camera_indices, pixel_x, pixel_y: [n] integers; rgba: [n, C + 1] float in [0, 1] (channels + alpha);
    metadata: the frames' values per pixel {name: [n, k]}; patch: side of the square patches the n pixels
    form, patch-major and row-major inside (None: scattered rays)."""

    camera_indices: Tensor
    pixel_x: Tensor
    pixel_y: Tensor
    rgba: Tensor
    metadata: dict[str, Tensor] = field(default_factory=dict)
    patch: tuple[int, int] | None = None
    """(height, width) of each patch (a whole image is one patch)."""


class PixelSampler:
    """Draws about `n` pixels per call from a split's images, using its own generator (checkpointed)."""

    def __init__(self, split: SceneSplit, seed: int, mode: str = "rays", patch_size: int = 16):
        if mode not in ("rays", "patches", "images"):
            raise ValueError(f"unknown sampler '{mode}' (choose rays, patches or images)")
        self.split = split
        self.mode = mode
        self.patch_size = min(patch_size, split.height, split.width)
        self.flat = split.images.reshape(-1, split.images.shape[-1])
        self.generator = torch.Generator().manual_seed(seed)

    def sample(self, n: int, crop: float = 1.0) -> PixelBatch:
        """n random pixels (rays), n // p^2 patches of p x p pixels (at least one), or one whole image; with
        crop < 1, rays and patches come from the central crop of that fraction of each side (NeRF's precrop)."""
        num, h, w = self.split.images.shape[:3]
        ch, cw = max(int(h * crop), 1), max(int(w * crop), 1)  # the central crop
        y0, x0 = (h - ch) // 2, (w - cw) // 2
        if self.mode == "rays":
            cam = torch.randint(0, num, (n,), generator=self.generator)
            pixel = torch.randint(0, ch * cw, (n,), generator=self.generator)
            x, y, patch = x0 + pixel % cw, y0 + pixel // cw, None
            flat_index = (cam * h + y) * w + x
        else:
            ph, pw = (h, w) if self.mode == "images" else (min(self.patch_size, ch), min(self.patch_size, cw))
            count = 1 if self.mode == "images" else max(n // (ph * pw), 1)
            cam = torch.randint(0, num, (count,), generator=self.generator)
            top = (y0 if self.mode == "patches" else 0) + torch.randint(0, (ch if self.mode == "patches" else h) - ph + 1, (count,), generator=self.generator)
            left = (x0 if self.mode == "patches" else 0) + torch.randint(0, (cw if self.mode == "patches" else w) - pw + 1, (count,), generator=self.generator)
            dy, dx = torch.meshgrid(torch.arange(ph), torch.arange(pw), indexing="ij")
            y = (top[:, None] + dy.reshape(1, -1)).reshape(-1)
            x = (left[:, None] + dx.reshape(1, -1)).reshape(-1)
            cam = cam[:, None].expand(-1, ph * pw).reshape(-1)
            flat_index, patch = (cam * h + y) * w + x, (ph, pw)
        return PixelBatch(cam, x, y, to_float(self.flat[flat_index]), self.split.frame_metadata(cam), patch)
