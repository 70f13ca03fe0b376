"""The method registry: name -> default MethodConfig. Later methods register here."""

from __future__ import annotations

import copy

from latent_atlas.fields.nerf_field import NeRFFieldConfig
from latent_atlas.methods.base import MethodConfig, OptimizerConfig
from latent_atlas.methods.dnerf import DNeRFConfig
from latent_atlas.methods.instant_ngp import InstantNGPConfig
from latent_atlas.methods.kplanes import DynamicKPlanesConfig, KPlanesModelConfig
from latent_atlas.methods.nerf_ae import NeRFAEConfig
from latent_atlas.methods.proposal_model import ProposalModelConfig
from latent_atlas.methods.tensorf import TensoRFConfig
from latent_atlas.methods.triplane import TriPlaneConfig
from latent_atlas.methods.vanilla_nerf import VanillaNeRFConfig
from latent_atlas.methods.volsdf import VolSDFConfig


def _adam_groups(names: tuple[str, ...], lr: float, lr_final: float, eps: float) -> dict[str, OptimizerConfig]:
    """The same Adam schedule for each named parameter group."""
    return {name: OptimizerConfig(lr=lr, lr_final=lr_final, eps=eps) for name in names}


PROPOSAL_LR_FINAL = 3e-3
"""nerfacto's and k-planes' (static and dynamic) final learning rate (from 1e-2): 1e-4 made the second half of a
short run learn little. 120 s on a 2-core CPU, objects128/bunny: nerfacto 32.29 / 35.13 / 37.97 / 38.35 dB and
kplanes 31.39 / 36.75 / 38.68 / 36.96 at 1e-4 / 1e-3 / 3e-3 / 1e-2; kplanes-dynamic 19.28 / 22.11 at 1e-4 / 3e-3
(90 s, a synthesized dynamic scene; BENCHMARKS.md). nerfstudio's nerfacto decays to 1e-4 over 200k steps, so its
30k-step runs end near 5e-3."""

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
        optimizers={"fields": OptimizerConfig(lr=3e-3, lr_final=2e-4)},
        max_steps=3000,
        rays_per_batch=1024,
    ),
    "triplane": MethodConfig(
        model=TriPlaneConfig(),
        optimizers={"planes": OptimizerConfig(lr=1e-2, lr_final=1e-3), "decoder": OptimizerConfig(lr=1e-3, lr_final=1e-4)},
        max_steps=5000,
        rays_per_batch=4096,
        bf16_on_cuda=False,  # H100: 0.86x the steps/s of fp32, same memory (BENCHMARKS.md)
    ),
    "tensorf": MethodConfig(
        model=TensoRFConfig(),
        # Adam's eps 1e-15 (the paper: 1e-8): latent targets vary ~10x less than colours, and with eps 1e-8 the grids'
        # tiny early gradients barely moved, so latent scenes stayed empty (collapse guard at step 300, both built-in
        # autoencoders); RGB is unchanged (bunny, 120 s: 42.37 vs 42.13 dB; BENCHMARKS.md, session 20).
        optimizers={"grids": OptimizerConfig(lr=0.02, lr_final=0.002, eps=1e-15), "networks": OptimizerConfig(lr=1e-3, lr_final=1e-4, eps=1e-15)},
        max_steps=30000,
        rays_per_batch=4096,
    ),
    "instant-ngp": MethodConfig(
        model=InstantNGPConfig(),
        optimizers={
            "encoding": OptimizerConfig(lr=1e-2, lr_final=1e-3, eps=1e-15, betas=(0.9, 0.99)),
            "networks": OptimizerConfig(lr=1e-2, lr_final=1e-3, eps=1e-15, betas=(0.9, 0.99), weight_decay=1e-6),
        },
        max_steps=20000,
        rays_per_batch=4096,
    ),
    "nerfacto": MethodConfig(
        model=ProposalModelConfig(),
        optimizers=_adam_groups(("proposal_networks", "fields"), lr=1e-2, lr_final=PROPOSAL_LR_FINAL, eps=1e-15),
        max_steps=30000,
        rays_per_batch=4096,
    ),
    "kplanes": MethodConfig(
        model=KPlanesModelConfig(),
        optimizers=_adam_groups(("proposal_networks", "fields"), lr=1e-2, lr_final=PROPOSAL_LR_FINAL, eps=1e-12),
        max_steps=30000,
        rays_per_batch=4096,
    ),
    "volsdf": MethodConfig(
        model=VolSDFConfig(),
        optimizers={"fields": OptimizerConfig(lr=5e-4, lr_final=5e-5)},
        max_steps=100_000,
        rays_per_batch=1024,
    ),
    "dnerf": MethodConfig(
        model=DNeRFConfig(field=NeRFFieldConfig(), n_samples=64, n_importance=128),
        optimizers={"fields": OptimizerConfig(lr=5e-4, lr_final=5e-5)},
        max_steps=800_000,
        rays_per_batch=500,
    ),
    "nerf-ae": MethodConfig(
        model=NeRFAEConfig(n_samples=64, n_importance=128),
        optimizers={"fields": OptimizerConfig(lr=5e-4, lr_final=5e-5)},
        max_steps=200_000,
        rays_per_batch=1024,
    ),
    "kplanes-dynamic": MethodConfig(
        model=DynamicKPlanesConfig(),
        optimizers=_adam_groups(("proposal_networks", "fields"), lr=1e-2, lr_final=PROPOSAL_LR_FINAL, eps=1e-12),
        max_steps=30000,
        rays_per_batch=4096,
    ),
}

METHOD_DESCRIPTIONS: dict[str, str] = {
    "vanilla-nerf": "NeRF: 8x256 coarse + fine MLPs, 64 stratified + 128 importance samples.",
    "tiny-nerf": "A small single NeRF MLP (4x64, no view dependence), for quick CPU runs.",
    "nerfacto": "Hash-grid field with appearance embedding, two proposal networks (256, 96) -> 48 samples.",
    "kplanes": "Multiscale k-planes (64-256) with plane TV, two k-plane proposal networks.",
    "instant-ngp": "Hash grid (16 levels) + tiny MLPs, SH view encoding, occupancy-grid marching.",
    "tensorf": "TensoRF-VM: 16/48 components, 128^3 -> 300^3 grids, alpha-mask pruning.",
    "dnerf": "D-NeRF (dynamic): 8x256 deformation MLP (x, t) -> canonical coarse/fine NeRF; frames carry a time.",
    "kplanes-dynamic": "k-planes with space-time planes (xt, yt, zt), time smoothness; the fast dynamic method.",
    "nerf-ae": "NeRF Atlas's NeRF auto-encoder: NeRF trunk -> 16-value material code -> density and colour decoders.",
    "volsdf": "VolSDF: 8x256 SDF network (sphere init), Laplace-CDF density with learned beta, eikonal loss; mesh export.",
    "triplane": "EG3D Tri-Plane: 3x32x64x64 summed planes, 64-unit softplus decoder, 48 + 48 samples.",
}


def method_names() -> list[str]:
    return sorted(METHODS)


def method_config(name: str) -> MethodConfig:
    """A fresh copy of the registry's default config of `name` (safe to modify)."""
    return copy.deepcopy(METHODS[name])
