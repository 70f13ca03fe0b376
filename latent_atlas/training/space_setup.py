"""The image space of a run (from --space / --ae) and its constant backgrounds."""

from __future__ import annotations

import torch
from torch import Tensor

from latent_atlas.errors import ConfigError
from latent_atlas.rendering.backgrounds import background_colors, eval_background
from latent_atlas.spaces.ae_loading import load_autoencoder
from latent_atlas.spaces.image_space import ImageSpace, LatentSpace
from latent_atlas.spaces.latent_cache import LatentCache
from latent_atlas.training.config import TrainConfig

SPACES = ("rgb", "latent")


def build_space(config: TrainConfig, device: torch.device) -> ImageSpace:
    """RGB, or the latent space of config.ae (its autoencoder frozen, on `device`)."""
    if config.space == "rgb":
        return ImageSpace()
    if config.space != "latent":
        raise ConfigError(f"--space {config.space}: choose from {', '.join(SPACES)}")
    if not config.ae:
        raise ConfigError("--space latent needs --ae (a `latlas ae train` run folder, an autoencoder folder or file, a preset or a hub id)")
    autoencoder = load_autoencoder(config.ae).to(device).requires_grad_(False)
    return LatentSpace(autoencoder, LatentCache(config.latent.cache_dir), config.latent.encode_batch)


def rgb_background(config: TrainConfig) -> Tensor:
    """The constant RGB colour [3] that held-out views (and, in a latent space, every view) are composited on."""
    return background_colors(eval_background(config.background), 1, 3)[0]


def space_background(config: TrainConfig, space: ImageSpace) -> Tensor:
    """That colour in the space: [C] (a latent space encodes it)."""
    return space.background_value(rgb_background(config))
