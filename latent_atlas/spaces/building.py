"""Building a run's image space from its flags (--space, --ae, --ae-preset, --init), for every command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, Optional

import torch
from torch import Tensor

from latent_atlas.errors import ConfigError, DataError
from latent_atlas.rendering.backgrounds import background_colors, eval_background
from latent_atlas.spaces.ae_loading import load_autoencoder
from latent_atlas.spaces.autoencoder_kl import AutoencoderKL, AutoencoderKLConfig
from latent_atlas.spaces.image_space import ImageSpace, LatentSpace, RGBSpace
from latent_atlas.spaces.latent_cache import LatentCache
from latent_atlas.spaces.presets import AE_PRESETS, BUILTIN_AE, builtin_weights, preset_config

SpaceName = Literal["rgb", "latent"]
"""--space choices."""


def build_space(
    space: str,
    device: torch.device,
    ae: Optional[str] = None,
    ae_preset: Optional[str] = None,
    init_run: Optional[Path] = None,
    cache_dir: Optional[Path] = None,
    encode_batch: int = 8,
) -> ImageSpace:
    """RGB, or the latent space of an autoencoder (frozen, on `device`): --ae weights, else a fresh --ae-preset one,
    else the architecture of --init's RUN/autoencoder (its weights come with the run's checkpoint), else the
    built-in autoencoder (presets.BUILTIN_AE, shipped with the package)."""
    if space == "rgb":
        return RGBSpace()
    if space != "latent":
        raise ConfigError(f"--space {space}: choose rgb or latent")
    if ae:
        autoencoder = load_autoencoder(ae)
    elif ae_preset:
        if ae_preset not in AE_PRESETS:
            raise ConfigError(f"--ae-preset {ae_preset}: choose from {', '.join(AE_PRESETS)}")
        autoencoder = AutoencoderKL(preset_config(ae_preset))
    elif init_run is not None:
        folder = Path(init_run) / "autoencoder"
        if not (folder / "config.json").is_file():
            raise DataError(init_run, "has no autoencoder/ to start from; pass --ae")
        config = json.loads((folder / "config.json").read_text())
        if config.get("_class_name", "AutoencoderKL") == "AutoencoderKL":
            autoencoder = AutoencoderKL(AutoencoderKLConfig.from_diffusers_config(config))
        else:  # a diffusers-only class: its architecture comes with its weights
            autoencoder = load_autoencoder(folder)
    elif builtin_weights(BUILTIN_AE) is not None:
        autoencoder = load_autoencoder(BUILTIN_AE)
    else:  # a source checkout whose weights were removed
        raise ConfigError(f"--space latent: no --ae given and the built-in {BUILTIN_AE} weights are missing (run `make ae`, or pass --ae)")
    return LatentSpace(autoencoder.to(device).requires_grad_(False), LatentCache(cache_dir), encode_batch)


def rgb_background(mode: str) -> Tensor:
    """The constant RGB colour [3] that held-out views (and, in a latent space, every view) are composited on."""
    return background_colors(eval_background(mode), 1, 3)[0]


def holds_colours(space: SpaceName) -> bool:
    """Whether a space named `space` holds colours (RGB) rather than latents, known before it is built."""
    return space == "rgb"
