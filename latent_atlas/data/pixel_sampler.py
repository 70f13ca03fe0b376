"""Random training pixels drawn uniformly over all pixels of all training images."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from latent_atlas.data.scene import SceneSplit, to_float


@dataclass
class PixelBatch:
    """camera_indices, pixel_x, pixel_y: [n] integers; rgba: [n, C + 1] float in [0, 1] (channels + alpha)."""

    camera_indices: Tensor
    pixel_x: Tensor
    pixel_y: Tensor
    rgba: Tensor


class PixelSampler:
    """Draws `n` pixels per call from a split's images, using its own generator (checkpointed)."""

    def __init__(self, split: SceneSplit, seed: int):
        self.split = split
        self.flat = split.images.reshape(-1, split.images.shape[-1])
        self.generator = torch.Generator().manual_seed(seed)

    def sample(self, n: int) -> PixelBatch:
        """n random pixels of the training images."""
        num, h, w = self.split.images.shape[:3]
        flat_index = torch.randint(0, num * h * w, (n,), generator=self.generator)
        cam = flat_index // (h * w)
        pixel = flat_index % (h * w)
        return PixelBatch(cam, pixel % w, pixel // w, to_float(self.flat[flat_index]))
