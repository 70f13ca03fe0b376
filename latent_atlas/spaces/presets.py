"""Named autoencoder architectures: the published ones, the built-in one shipped with its weights, and small
ones that train on a CPU."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from latent_atlas.spaces.autoencoder_kl import AutoencoderKLConfig

_LATLAS = AutoencoderKLConfig(
    block_out_channels=(32, 64, 128, 128), layers_per_block=1, latent_channels=16, norm_num_groups=8, mid_block_add_attention=False, patch_skip=True
)
"""The built-in autoencoders' architecture, which the latlas-* presets vary."""

_F4_POOLED = replace(
    _LATLAS, block_out_channels=(32, 64, 128), patch_kernel=8, encoder_type="pooled", pool_windows="isotropic", pool_order=0, pool_feature_kernel=1
)
"""The pooled f4 autoencoder (isotropic windows over colour features), whose encoder latlas-f4c16-slim shares."""

AE_PRESETS: dict[str, AutoencoderKLConfig] = {
    # Stable Diffusion's KL-f8 VAE (stabilityai/sd-vae-ft-mse): 4 latent channels.
    "stable-diffusion": AutoencoderKLConfig(
        block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4, norm_num_groups=32, scaling_factor=0.18215
    ),
    # ostris/vae-kl-f8-d16: the same f8 architecture with 16 latent channels.
    "ostris": AutoencoderKLConfig(block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=16, norm_num_groups=32, scaling_factor=0.125),
    # The built-in f8 autoencoder (16 latent channels as IG-AE's ostris VAE, 3.8 M parameters, no attention, linear
    # patch paths): weights ship in spaces/weights/latlas-f8c16-igae (reconstruction-trained, then IG-AE fine-tuned),
    # made from synthesized scenes by benchmarks/builtin_ae.py (see its MODEL_CARD.md; the plain one: `make ae`).
    "latlas-f8c16": _LATLAS,
    # The same with lapped patch paths (16 x 16 windows at stride 8): latents that move with the image.
    "latlas-f8c16-lapped": replace(_LATLAS, patch_kernel=16),
    # Latents pooled from per-pixel features by smooth windows (pooled encoder), decoded by the lapped preset's decoder.
    "latlas-f8c16-pooled": replace(_LATLAS, patch_kernel=16, encoder_type="pooled", pool_order=2),
    # The pooled encoder at f4 with isotropic windows over colour features: 32 x 32 latents of 128-px views whose
    # every channel a latent NeRF can learn (BENCHMARKS.md "Latents that move ..."); weights ship in
    # spaces/weights/latlas-f4c16-pooled (reconstruction-trained with latent noise by benchmarks/builtin_ae.py) and
    # latlas-f4c16-pooled-igae (then IG-AE fine-tuned).
    "latlas-f4c16-pooled": _F4_POOLED,
    # latlas-f4c16-pooled's encoder and latent space with a decoder of a quarter of its width (16-32-64 channels, about
    # a quarter of its multiply-adds): a cheaper decoder for the latent NeRFs' decoded phase, trained on a frozen
    # encoder (`latlas ae train --init latlas-f4c16-pooled-igae --init-parts matching --train-parts decoder`); weights
    # ship in spaces/weights/latlas-f4c16-slim (that decoder) and latlas-f4c16-slim-igae (then IG-AE'd, encoder frozen: the default,
    # BENCHMARKS.md session 37).
    "latlas-f4c16-slim": replace(_F4_POOLED, block_out_channels=(16, 32, 64)),
    # CPU-sized f8 autoencoders (about 0.3 M parameters) for the demo, tests and users without weights.
    "tiny": AutoencoderKLConfig(block_out_channels=(16, 32, 32, 32), layers_per_block=1, latent_channels=4, norm_num_groups=8, mid_block_add_attention=False),
    "tiny16": AutoencoderKLConfig(
        block_out_channels=(16, 32, 32, 32), layers_per_block=1, latent_channels=16, norm_num_groups=8, mid_block_add_attention=False
    ),
}
"""Architecture by preset name."""

HUB_IDS: dict[str, str] = {
    "stable-diffusion": "stabilityai/sd-vae-ft-mse",
    "ostris": "ostris/vae-kl-f8-d16",
}
"""Where the published presets' weights live on the Hugging Face hub (downloaded only when online)."""


WEIGHTS_DIR = Path(__file__).parent / "weights"
"""Folder of the built-in autoencoders' weights (one diffusers-layout folder per name, with a MODEL_CARD.md)."""

BUILTIN_AE = "latlas-f4c16-slim-igae"
"""The autoencoder that `--space latent` uses when no --ae is given."""


def builtin_weights(name: str) -> Path | None:
    """The folder holding the shipped weights of preset `name`, or None when it has none."""
    folder = WEIGHTS_DIR / name
    return folder if (folder / "config.json").is_file() else None


def preset_config(name: str) -> AutoencoderKLConfig:
    """A copy of the named preset's architecture (ValueError naming the choices when unknown)."""
    if name not in AE_PRESETS:
        raise ValueError(f"unknown autoencoder preset '{name}' (choose from {', '.join(AE_PRESETS)})")
    return replace(AE_PRESETS[name])
