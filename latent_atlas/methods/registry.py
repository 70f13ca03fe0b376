"""The method registry: name -> default MethodConfig. Later methods register here."""

from __future__ import annotations

import copy

from latent_atlas.fields.nerf_field import NeRFFieldConfig
from latent_atlas.methods.base import MethodConfig, OptimizerConfig
from latent_atlas.methods.vanilla_nerf import VanillaNeRFConfig

METHODS: dict[str, MethodConfig] = {
    "vanilla-nerf": MethodConfig(
        model=VanillaNeRFConfig(field=NeRFFieldConfig(), n_samples=64, n_importance=128),
        optimizers={"fields": OptimizerConfig(lr=5e-4, lr_final=5e-5)},
        max_steps=200_000,
        rays_per_batch=1024,
    ),
    "tiny-nerf": MethodConfig(
        model=VanillaNeRFConfig(
            field=NeRFFieldConfig(width=64, depth=4, skips=(), position_frequencies=6, direction_frequencies=2, view_dependent=False, head_width=32),
            n_samples=48,
            n_importance=0,
        ),
        optimizers={"fields": OptimizerConfig(lr=5e-3, lr_final=2e-4)},
        max_steps=3000,
        rays_per_batch=1024,
    ),
}

METHOD_DESCRIPTIONS: dict[str, str] = {
    "vanilla-nerf": "NeRF: 8x256 coarse + fine MLPs, 64 stratified + 128 importance samples.",
    "tiny-nerf": "A small single NeRF MLP (4x64, no view dependence), for quick CPU runs.",
}


def method_names() -> list[str]:
    return sorted(METHODS)


def method_config(name: str) -> MethodConfig:
    """A fresh copy of the registry's default config of `name` (safe to modify)."""
    return copy.deepcopy(METHODS[name])
