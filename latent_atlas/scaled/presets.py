"""The papers' multi-scene configurations at full size, and CPU-sized ones that finish on a laptop.

Full-size facts are DESIGN.md's (from the released code): Tri-Planes [3, 32, 64, 64], decoder
32-64-(1+C), 48 + 48 samples; micro planes [3, 10, 64, 64] + M = 50 macro [3, 22, 64, 64];
IG-AE pretrain 50 epochs of loss_e + 1e-5 TV, then loss_d + 0.1 loss_ae + loss_e + 1e-4 TV with
encoder/decoder at 5e-5 and planes/MLP at 1e-4; Scaled-IG stage 1 on scenes [0, 500) with AE lr
1e-4 and bases/coefficients 1e-2; stage 2: encoder frozen, decoder MLP re-initialised, loss_e for
30 epochs then loss_d for 50 with the decoder fine-tuned.
"""

from __future__ import annotations

import copy

from latent_atlas.fields.multi_triplane import MicroMacroConfig
from latent_atlas.fields.triplane_field import TriPlaneFieldConfig
from latent_atlas.methods.base import OptimizerConfig
from latent_atlas.scaled.config import MultiSceneConfig, PhaseConfig


def _lr(lr: float) -> OptimizerConfig:
    """Adam decaying exponentially to a tenth over the run."""
    return OptimizerConfig(lr=lr, lr_final=lr / 10)


def _igae_phases(pretrain: float, joint: float) -> tuple[PhaseConfig, ...]:
    return (
        PhaseConfig(name="pretrain", epochs=pretrain, loss_e=1.0, tv=1e-5),
        PhaseConfig(name="joint", epochs=joint, loss_e=1.0, loss_d=1.0, loss_ae=0.1, tv=1e-4, train_encoder=True, train_decoder=True),
    )


def _stage2_phases(latent: float, decoded: float, train_macro: bool) -> tuple[PhaseConfig, ...]:
    return (
        PhaseConfig(name="latent", epochs=latent, loss_e=1.0, train_macro=train_macro),
        PhaseConfig(name="decoded", epochs=decoded, loss_e=0.0, loss_d=1.0, train_decoder=True, train_macro=train_macro),
    )


FULL_FIELD = TriPlaneFieldConfig(plane_channels=32, plane_resolution=64, hidden=64)
CPU_FIELD = TriPlaneFieldConfig(plane_channels=16, plane_resolution=32, hidden=32)
CPU_MICRO_MACRO = MicroMacroConfig(micro_channels=6, macro_channels=10, num_macro=8)

SCALED_PRESETS: dict[str, MultiSceneConfig] = {
    "igae": MultiSceneConfig(
        kind="igae",
        ae="ostris",
        planes="independent",
        field=FULL_FIELD,
        phases=_igae_phases(50, 50),
        scene_lr=_lr(1e-4),
        shared_lr=_lr(1e-4),
        ae_lr=_lr(5e-5),
        scenes_per_batch=8,
    ),
    "3daae-train": MultiSceneConfig(
        kind="3daae-train",
        ae="ostris",
        planes="micro-macro",
        field=FULL_FIELD,
        micro_macro=MicroMacroConfig(),
        num_scenes=500,
        phases=_igae_phases(50, 50),
        scene_lr=_lr(1e-2),
        coefficient_lr=_lr(1e-2),
        shared_lr=_lr(1e-4),
        ae_lr=_lr(1e-4),
        scenes_per_batch=8,
    ),
    "3daae-exploit": MultiSceneConfig(
        kind="3daae-exploit",
        planes="micro-macro",
        field=FULL_FIELD,
        micro_macro=MicroMacroConfig(),
        first_scene=500,
        reinit_decoder_mlp=True,
        phases=_stage2_phases(30, 50, train_macro=False),
        scene_lr=_lr(1e-2),
        coefficient_lr=_lr(1e-2),
        shared_lr=_lr(1e-4),
        ae_lr=_lr(1e-4),
        scenes_per_batch=8,
        parallel="scenes",
    ),
    "scaled-ig-cars-stage1": MultiSceneConfig(
        kind="scale-stage1",
        ae="ostris",
        planes="micro-macro",
        field=FULL_FIELD,
        micro_macro=MicroMacroConfig(),
        num_scenes=500,
        phases=_igae_phases(50, 50),
        scene_lr=_lr(1e-2),
        coefficient_lr=_lr(1e-2),
        shared_lr=_lr(1e-2),
        ae_lr=_lr(1e-4),
        scenes_per_batch=8,
    ),
    "scaled-ig-cars-stage2": MultiSceneConfig(
        kind="scale-stage2",
        planes="micro-macro",
        field=FULL_FIELD,
        micro_macro=MicroMacroConfig(),
        first_scene=500,
        reinit_decoder_mlp=True,
        phases=_stage2_phases(30, 50, train_macro=False),
        scene_lr=_lr(1e-2),
        coefficient_lr=_lr(1e-2),
        shared_lr=_lr(1e-3),
        ae_lr=_lr(1e-4),
        scenes_per_batch=8,
        parallel="scenes",
    ),
    # CPU-sized: smaller planes and basis, a few epochs; pass --ae (a `latlas ae train` run) or --ae-preset
    "igae-cpu": MultiSceneConfig(
        kind="igae",
        planes="independent",
        field=CPU_FIELD,
        phases=_igae_phases(4, 4),
        scene_lr=_lr(2e-2),
        shared_lr=_lr(5e-3),
        ae_lr=_lr(1e-4),
        scenes_per_batch=4,
    ),
    "scale-stage1-cpu": MultiSceneConfig(
        kind="scale-stage1",
        planes="micro-macro",
        field=CPU_FIELD,
        micro_macro=CPU_MICRO_MACRO,
        phases=_igae_phases(4, 4),
        scene_lr=_lr(2e-2),
        coefficient_lr=_lr(2e-2),
        shared_lr=_lr(5e-3),
        ae_lr=_lr(1e-4),
        scenes_per_batch=4,
    ),
    # stage 2 on 128-px cars (BENCHMARKS.md, session 25): more decoded epochs still gain (2 + 8: +0.8 dB over 2 + 4, 4 + 16: 25.9 dB at 16 scenes)
    "scale-stage2-cpu": MultiSceneConfig(
        kind="scale-stage2",
        planes="micro-macro",
        field=CPU_FIELD,
        micro_macro=CPU_MICRO_MACRO,
        reinit_decoder_mlp=False,  # stage 1's decoder MLP: +0.9 dB at 16 scenes, level at 64, same time (BENCHMARKS.md, session 24)
        # the macro basis fine-tuned too (the papers freeze it): +0.34 / +0.44 / +0.84 dB decoded at 16 / 64 / 256 scenes,
        # same time per scene (BENCHMARKS.md, session 40)
        phases=_stage2_phases(8, 4, train_macro=True),
        rays_per_view=256,  # latent epochs of a quarter of each view's latent pixels: 8 + 4 beats 2 + 4 of whole views in 1.03x the time, half the activations (BENCHMARKS.md, session 25)
        decoded_crop=16,  # 128-px views at f4 (32 x 32 latents): 4 decoded epochs of quarter views beat 2 of whole ones in 60% of the time (BENCHMARKS.md)
        n_samples=16,  # 16 + 16 samples per ray: -0.08 dB against 48 + 48 in half the time on 128-px cars (BENCHMARKS.md, session 26)
        n_importance=16,
        scene_lr=_lr(2e-2),
        coefficient_lr=_lr(2e-2),
        shared_lr=_lr(5e-3),
        # the shared decoder fine-tuned at 20x the papers' 1e-4 (one scene's decoder lost 0.45 dB at 3e-4, session 34):
        # 25.72 -> 26.50 dB decoded at 64 scenes, +0.5 at 16, same time; at 256 scenes 4 + 2 epochs then take < 0.27x
        # RGB Tri-Planes' time to equal PSNR (BENCHMARKS.md, session 41)
        ae_lr=_lr(2e-3),
        # the decoder in bf16 where the CPU or GPU has bf16 units, else fp32: the same decoded PSNR to 0.01 dB at 16 / 64 /
        # 256 scenes, stage 2 in 0.77-0.84x (a Zen 4 EPYC, session 26) and 0.92x (a Xeon with AMX, session 50) the time
        decoder_precision="auto",
        scenes_per_batch=4,
        parallel="scenes",
    ),
    "triplanes-rgb-cpu": MultiSceneConfig(
        kind="triplanes",
        space="rgb",
        planes="independent",
        field=CPU_FIELD,
        phases=(PhaseConfig(name="rgb", epochs=8),),
        scene_lr=_lr(2e-2),
        shared_lr=_lr(5e-3),
        # 256 random pixels per view, not 1024: at 16 scenes of 128-px cars 32 epochs of 256 reach 26.06 dB in 0.75x the
        # time 16 of 1024 take for 25.06; at 64 scenes 16 of 256 reach 25.56 in 0.62x the time 8 of 1024 take for 25.26; at 256
        # scenes 16 of 256 (25.76 dB) sit on 1024's PSNR-time curve, neither faster nor slower (BENCHMARKS.md, session 48)
        rays_per_view=256,
        n_samples=16,  # 16 + 16 samples per ray: -0.16 dB against 48 + 48 in 0.26x the time on 128-px cars (BENCHMARKS.md, session 26)
        n_importance=16,
        scenes_per_batch=4,
    ),
}
"""Multi-scene configurations by name."""


def scaled_preset(name: str) -> MultiSceneConfig:
    """A copy of a preset (ValueError naming the choices when unknown)."""
    if name not in SCALED_PRESETS:
        raise ValueError(f"unknown preset '{name}' (choose from {', '.join(SCALED_PRESETS)})")
    return copy.deepcopy(SCALED_PRESETS[name])
