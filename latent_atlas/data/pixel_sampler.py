"""Training pixels: scattered random rays, square patches, or whole images, with their frames' metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

import torch
from torch import Tensor

from latent_atlas.data.scene import SceneSplit, to_float

SamplerName = Literal["rays", "importance", "patches", "images"]
"""--sampler choices: rays (uniform over all pixels), importance (rays drawn more often where the recent error is
high: instant-ngp's error map), patches (square patches, for SSIM/FFT losses), images (one whole view)."""

RAY_SAMPLERS = ("rays", "importance")
"""--sampler choices that draw scattered rays (no patches: no ssim/fft losses, no neural upsampling)."""

ERROR_TILE = 8
"""Side in pixels of the error map's tiles (--sampler importance)."""
UNIFORM_SHARE = 0.25
"""Share of --sampler importance's rays drawn uniformly (the rest in proportion to the tiles' error): every pixel
keeps at least a quarter of its uniform chance, so easy regions (an empty background) are still seen. 0.25 vs 0.5,
kplanes on a synthesized textured object at 120 s: 30.5 / 26.9 / 30.6 vs 26.7 / 29.2 / 27.1 / 29.9 dB (uniform rays:
25.3-26.0; BENCHMARKS.md)."""
ERROR_DECAY = 0.5
"""Weight of a tile's newest error measurement in its running estimate."""


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

    def __init__(self, split: SceneSplit, seed: int, mode: str = "rays", patch_size: int = 16, views: Tensor | None = None):
        if mode not in get_args(SamplerName):
            raise ValueError(f"unknown sampler '{mode}' (choose {', '.join(get_args(SamplerName))})")
        self.split = split
        self.mode = mode
        self.patch_size = min(patch_size, split.height, split.width)
        self.flat = split.images.reshape(-1, split.images.shape[-1])
        self.generator = torch.Generator().manual_seed(seed)
        num, h, w = split.images.shape[:3]
        self.tiles_y, self.tiles_x = -(-h // ERROR_TILE), -(-w // ERROR_TILE)
        self.views = torch.arange(num) if views is None else views.long()
        """Indices of the split's images drawn from [V] (default: all)."""
        self.error_map = torch.ones(num * self.tiles_y * self.tiles_x) if mode == "importance" else torch.empty(0)
        """Running squared error per tile [N * tiles_y * tiles_x] (--sampler importance); starts high so that every tile is visited."""
        if self.error_map.numel() and len(self.views) < num:  # tiles of images not drawn from are never drawn
            drawn = torch.zeros(num, dtype=torch.bool)
            drawn[self.views] = True
            self.error_map.view(num, -1)[~drawn] = 0.0

    def sample(self, n: int, crop: float = 1.0) -> PixelBatch:
        """n random pixels (rays), n // p^2 patches of p x p pixels (at least one), or one whole image; with
        crop < 1, rays and patches come from the central crop of that fraction of each side (NeRF's precrop)."""
        num, h, w = self.split.images.shape[:3]
        ch, cw = max(int(h * crop), 1), max(int(w * crop), 1)  # the central crop
        y0, x0 = (h - ch) // 2, (w - cw) // 2
        if self.mode == "importance" and crop >= 1.0:
            cam, x, y = self._importance_pixels(n, h, w)
            flat_index, patch = (cam * h + y) * w + x, None
        elif self.mode in RAY_SAMPLERS:
            cam, x, y = self._uniform_pixels(n, y0, x0, ch, cw)
            flat_index, patch = (cam * h + y) * w + x, None
        else:
            ph, pw = (h, w) if self.mode == "images" else (min(self.patch_size, ch), min(self.patch_size, cw))
            count = 1 if self.mode == "images" else max(n // (ph * pw), 1)
            cam = self.views[torch.randint(0, len(self.views), (count,), generator=self.generator)]
            top = (y0 if self.mode == "patches" else 0) + torch.randint(0, (ch if self.mode == "patches" else h) - ph + 1, (count,), generator=self.generator)
            left = (x0 if self.mode == "patches" else 0) + torch.randint(0, (cw if self.mode == "patches" else w) - pw + 1, (count,), generator=self.generator)
            dy, dx = torch.meshgrid(torch.arange(ph), torch.arange(pw), indexing="ij")
            y = (top[:, None] + dy.reshape(1, -1)).reshape(-1)
            x = (left[:, None] + dx.reshape(1, -1)).reshape(-1)
            cam = cam[:, None].expand(-1, ph * pw).reshape(-1)
            flat_index, patch = (cam * h + y) * w + x, (ph, pw)
        return PixelBatch(cam, x, y, to_float(self.flat[flat_index]), self.split.frame_metadata(cam), patch)

    def _importance_pixels(self, n: int, h: int, w: int) -> tuple[Tensor, Tensor, Tensor]:
        """n pixels (camera [n], x [n], y [n]): a UNIFORM_SHARE uniformly, the rest from tiles in proportion to error_map."""
        n_uniform = int(round(n * UNIFORM_SHARE))
        cdf = torch.cumsum(self.error_map.double(), 0)  # inverse-CDF draw: torch.multinomial stops at 2^24 tiles
        draws = torch.rand(n - n_uniform, generator=self.generator, dtype=torch.float64) * cdf[-1]
        tile = torch.searchsorted(cdf, draws, right=True).clamp_(max=len(cdf) - 1)
        per_image = self.tiles_y * self.tiles_x
        cam, ty, tx = tile // per_image, tile % per_image // self.tiles_x, tile % self.tiles_x
        tile_h = (torch.clamp(h - ty * ERROR_TILE, max=ERROR_TILE)).float()  # edge tiles may be cut short
        tile_w = (torch.clamp(w - tx * ERROR_TILE, max=ERROR_TILE)).float()
        y = ty * ERROR_TILE + (torch.rand(len(tile), generator=self.generator) * tile_h).long()
        x = tx * ERROR_TILE + (torch.rand(len(tile), generator=self.generator) * tile_w).long()
        u_cam, u_x, u_y = self._uniform_pixels(n_uniform, 0, 0, h, w)
        return torch.cat([cam, u_cam]), torch.cat([x, u_x]), torch.cat([y, u_y])

    def _uniform_pixels(self, n: int, y0: int, x0: int, ch: int, cw: int) -> tuple[Tensor, Tensor, Tensor]:
        """n pixels (camera [n], x [n], y [n]) uniform over every image's ch x cw window at (y0, x0)."""
        cam = self.views[torch.randint(0, len(self.views), (n,), generator=self.generator)]
        pixel = torch.randint(0, ch * cw, (n,), generator=self.generator)
        return cam, x0 + pixel % cw, y0 + pixel // cw

    def record_errors(self, batch: PixelBatch, errors: Tensor) -> None:
        """Folds the squared errors [n] of a drawn batch into the error map (--sampler importance; otherwise nothing)."""
        if self.mode != "importance":
            return
        errors = errors.detach().float().cpu()
        tile = (batch.camera_indices * self.tiles_y + batch.pixel_y // ERROR_TILE) * self.tiles_x + batch.pixel_x // ERROR_TILE
        total = torch.zeros_like(self.error_map).index_add_(0, tile, errors)
        count = torch.zeros_like(self.error_map).index_add_(0, tile, torch.ones_like(errors))
        seen = count > 0
        self.error_map[seen] = (1 - ERROR_DECAY) * self.error_map[seen] + ERROR_DECAY * total[seen] / count[seen]
        self.error_map.clamp_(min=1e-8)
