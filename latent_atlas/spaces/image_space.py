"""Image spaces: where a scene's images live while a field learns them (RGB, or an autoencoder's latents).

A space maps a scene's splits into it (images encoded once, cached; cameras
rescaled by the downscale factor) and decodes renders back to RGB. Fields and
renderers only see `channels`.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from latent_atlas.data.scene import SceneData, SceneSplit, composite_on_background
from latent_atlas.spaces.ae_loading import fingerprint
from latent_atlas.spaces.autoencoder_kl import AutoencoderKL
from latent_atlas.spaces.latent_cache import LatentCache, cached, images_key
from latent_atlas.spaces.normalization import denormalize_latent, normalize_latent


class ImageSpace:
    """RGB: 3 channels, identity codec, images as they are."""

    name = "rgb"
    channels = 3
    downscale = 1

    def encode(self, rgb: Tensor) -> Tensor:
        """Images [B, H, W, 3] in [0, 1] -> values [B, H/f, W/f, C] in [0, 1]."""
        return rgb

    def decode(self, values: Tensor) -> Tensor:
        """Values [B, h, w, C] -> RGB images [B, h*f, w*f, 3] in [0, 1]."""
        return values

    def background_value(self, color: Tensor) -> Tensor:
        """The space's value [C] of an image filled with RGB `color` [3]."""
        return color

    def map_scene(self, scene: SceneData, background: Tensor | None) -> SceneData:
        """The scene in this space (RGB: unchanged, alpha kept for per-step backgrounds)."""
        return scene


class LatentSpace(ImageSpace):
    """An autoencoder's normalised latents: C = latent channels, images / f, on a constant background."""

    name = "latent"

    def __init__(self, autoencoder: AutoencoderKL, cache: LatentCache | None = None, batch_size: int = 8):
        self.autoencoder = autoencoder
        self.channels = autoencoder.latent_channels
        self.downscale = autoencoder.downscale_factor
        self.cache = cache or LatentCache()
        self.batch_size = batch_size
        self._fingerprint: str | None = None

    @property
    def device(self) -> torch.device:
        return next(self.autoencoder.parameters()).device

    def encoder_fingerprint(self) -> str:
        """Fingerprint of the encoder's weights (what cached latents depend on; the decoder may be fine-tuned)."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.autoencoder, part="encoder")
        return self._fingerprint

    @torch.no_grad()
    def encode(self, rgb: Tensor) -> Tensor:
        """Images [B, H, W, 3] in [0, 1] -> normalised latents [B, H/f, W/f, C] (posterior means)."""
        outputs = []
        for start in range(0, rgb.shape[0], self.batch_size):
            x = rgb[start : start + self.batch_size].to(self.device).permute(0, 3, 1, 2) * 2.0 - 1.0
            mean, _ = self.autoencoder.encode(x)
            outputs.append(normalize_latent(mean).permute(0, 2, 3, 1).cpu())
        return torch.cat(outputs)

    def decode(self, values: Tensor) -> Tensor:
        """Normalised latents [B, h, w, C] -> RGB [B, h*f, w*f, 3] in [0, 1] (differentiable)."""
        z = denormalize_latent(values.to(self.device)).permute(0, 3, 1, 2)
        return ((self.autoencoder.decode(z) + 1.0) * 0.5).clamp(0.0, 1.0).permute(0, 2, 3, 1)

    def background_value(self, color: Tensor) -> Tensor:
        """Latent [C] of a constant image of `color` [3]: the centre latent pixel of a 4f x 4f image."""
        size = 4 * self.downscale
        image = color.float().reshape(1, 1, 1, 3).expand(1, size, size, 3)
        return self.encode(image)[0, 2, 2]

    def encode_split(self, split: SceneSplit, background: Tensor) -> Tensor:
        """Normalised latents [N, h, w, C] of a split's images composited on `background` [3] (cached)."""
        key = images_key(split.image_paths, {"encoder": self.encoder_fingerprint(), "background": [round(float(v), 6) for v in background], "shape": list(split.images.shape)})
        return cached(self.cache, key, lambda: self.encode(composite_on_background(split.rgba(slice(None)), background)))

    def map_scene(self, scene: SceneData, background: Tensor | None) -> SceneData:
        """Every split encoded on `background` (opaque: alpha 1) with cameras scaled by 1/f."""
        if background is None:
            raise ValueError("a latent space needs a constant background colour")
        splits = {}
        for name, split in scene.splits.items():
            if split.height % self.downscale or split.width % self.downscale:
                raise ValueError(f"{name} images are {split.width}x{split.height}: not divisible by the autoencoder's factor {self.downscale}")
            latents = self.encode_split(split, background)
            values = torch.cat([latents, torch.ones_like(latents[..., :1])], dim=-1)
            splits[name] = SceneSplit(values, split.cameras.rescale(1.0 / self.downscale), split.image_paths)
        return replace(scene, splits=splits)

