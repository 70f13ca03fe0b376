"""Defaults that fit the machine: on a CPU, each method's CPU-sized settings; on CUDA, the papers' (the registry's).

They are command-line flags put before the user's own, so that every one of
them can be overridden flag by flag; `latlas train` prints them at start.
"""

from __future__ import annotations

CPU_HASH_GRID = ("--model.field.hash-grid.n-levels", "8", "--model.field.hash-grid.log2-hashmap-size", "17", "--model.field.hash-grid.max-resolution", "512")
"""A CPU-sized hash grid: 8 levels up to 512, 2^17 entries per level (128-pixel images)."""

ERROR_MAP_SAMPLING = ("--sampler", "importance")
"""Rays drawn where the recent error is high (a quarter uniform): in a 120-s CPU run of 600-2000 steps, 90% of
uniform rays land on an empty background learnt in the first hundred. Back to back per scene and method at 120 s,
uniform vs importance: kplanes, instant-ngp and nerfacto +0.6 to +4.2 dB on every object; tensorf -0.2 to +1.0
with 0.55-0.72x the steps (BENCHMARKS.md, session 17)."""

KPLANES_FAST_START = ("--model.field.kplanes.init-low", "0.5", "--model.field.kplanes.init-high", "1.0")
"""k-planes' field planes start uniform in [0.5, 1], not the paper's [0.1, 0.5] (whose 30000-step runs it keeps on
CUDA). In a 900-step CPU run, seeds 0 and 1, same machine: a synthesized textured object 28.45 / 27.84 -> 31.47 /
29.25 dB; objects128/bunny 40.54 / 40.69 -> 39.96 / 39.71 ([0.3, 0.8]: 30.92 / 27.79 and 40.67). Why is not
established: planes + an MLP regressing a checkered sphere alone learn faster at the paper's init (BENCHMARKS.md,
session 18)."""

CPU_PROPOSAL = (
    "--rays-per-batch",
    "1024",
    "--background",
    "white",
    "--model.proposal-samples",
    "64",
    "32",
    "--model.nerf-samples",
    "32",
    "--model.anneal-steps",
    "200",
)
"""Proposal methods at CPU size: 1024 rays, 64 + 32 proposal samples and 32 field samples per ray (the GPU defaults,
256 + 96 + 48 on 4096 rays, ran 29 steps in 180 s on a 2-core CPU), a shorter proposal anneal."""

TINY_NERF_CPU_SAMPLES = ("--model.n-samples", "24")
"""tiny-nerf-sized MLPs sample 24 points per ray on a CPU, not 48: 1.7-2.0x the steps in 120 s. On a Zen 1 EPYC
tiny-nerf on objects128/bunny 28.94 -> 30.56 dB, suzanne 26.70 -> 28.36, make demo's scene 21.06 -> 26.64 (48 left it on
a plateau); dnerf 22.66 -> 24.33 on a synthesized dynamic scene, nerf-ae 23.10 -> 27.09 on make demo's scene
(BENCHMARKS.md, session 46)."""

TINY_NERF_SIZE = (
    "--rays-per-batch",
    "1024",
    "--background",
    "white",
    "--optimizers.fields.lr",
    "3e-3",
    "--optimizers.fields.lr-final",
    "2e-4",
    "--model.field.width",
    "64",
    "--model.field.depth",
    "4",
    "--model.field.skips",
    "--model.field.position-frequencies",
    "6",
    "--model.field.direction-frequencies",
    "2",
    "--model.field.no-view-dependent",
    *TINY_NERF_CPU_SAMPLES,
    "--model.n-importance",
    "0",
)
"""NeRF-MLP methods at tiny-nerf's CPU size and learning rate: a 4x64 field, 24 samples per ray, no fine network, no
view dependence; 1024 rays per step (tiny-nerf's own 512, session 47, was not measured for them)."""

CPU_FLAGS: dict[str, tuple[str, ...]] = {
    # the official TensoRF's CPU-sized run (64^3 grids, 1024 rays, white background), but grids grow to 128^3, the
    # CPU defaults' 128-pixel images, not 200^3: voxels finer than the pixels only slow each step (objects128/bunny
    # at 120 s, back to back: 36.2 vs 29.1 dB, 6.1 vs 2.3 steps/s; a synthesized textured object 32.5 vs 27.9; BENCHMARKS.md),
    # and rays march one voxel per sample, not half: 1.2-2.1x the steps in 120 s, +0.3 to +1.5 dB on four of five
    # objects and equal (-0.03) on the fifth, 8-24% less peak memory (BENCHMARKS.md, session 16)
    "tensorf": (
        "--model.initial-resolution",
        "64",
        "--model.final-resolution",
        "128",
        "--model.step-ratio",
        "1.0",
        *ERROR_MAP_SAMPLING,
        "--rays-per-batch",
        "1024",
        "--background",
        "white",
    ),
    # nerfacc-style dynamic batch: a fixed number of samples per step instead of a fixed number of rays,
    # 256 steps per box diagonal and a 64^3 occupancy grid; 16384 samples: 32768 made twice the steps of 65536 in the
    # same time, +5.2 dB on objects128/bunny and +1.1 dB on a synthesized aircraft at 120 s, and 16384 reaches 28 dB on
    # bunny in 9 s against 13 and ends suzanne's 120 s at 39.8 dB against 39.0 (BENCHMARKS.md, session 32)
    "instant-ngp": (
        "--rays-per-batch",
        "1024",
        "--samples-per-batch",
        "16384",
        "--model.occupancy-resolution",
        "64",
        "--background",
        "white",
        "--model.steps-per-diagonal",
        "256",
        *CPU_HASH_GRID,
        *ERROR_MAP_SAMPLING,
    ),
    "nerfacto": (*CPU_PROPOSAL, *CPU_HASH_GRID, *ERROR_MAP_SAMPLING),
    "kplanes": (
        *CPU_PROPOSAL,
        "--model.field.kplanes.multiscale",
        "1",
        "2",
        "--model.field.kplanes.features",
        "16",
        *KPLANES_FAST_START,
        *ERROR_MAP_SAMPLING,
    ),
    # 512 rays of 32 + 32 samples drawn from the error map, not 4096 of 48 + 48: objects128/bunny at 120 s 25.9 -> 35.2
    # dB with 1024 rays (7x the steps; session 33); 512, not 1024, on a Zen 1 EPYC: 1.6-1.7x the steps, bunny / suzanne
    # RGB 31.69 -> 32.92 / 30.65 -> 32.02 dB, latent 28.46 -> 30.09 / 30.08 -> 31.00 decoded (BENCHMARKS.md, session 47)
    "triplane": (
        "--rays-per-batch",
        "512",
        "--model.n-samples",
        "32",
        "--model.n-importance",
        "32",
        *ERROR_MAP_SAMPLING,
        "--background",
        "white",
    ),
    # 512 rays per step, not 1024: 1.6-1.9x the steps in 120 s; make demo's 128-px scene on a Zen 1 EPYC, four seeds in
    # RGB, three in latent space: RGB 26.98 -> 27.48 dB, latent 25.91 -> 26.89 decoded on average (BENCHMARKS.md, session 47)
    "tiny-nerf": (*TINY_NERF_CPU_SAMPLES, "--rays-per-batch", "512"),
    # D-NeRF and NeRF-AE at tiny-nerf's CPU size and learning rate (D-NeRF: + a 4x64 deformation MLP)
    "dnerf": (
        *TINY_NERF_SIZE,
        "--model.field.head-width",
        "32",
        "--model.deformation.position-frequencies",
        "6",
        "--model.deformation.width",
        "64",
        "--model.deformation.depth",
        "4",
        "--model.deformation.skips",
    ),
    "nerf-ae": TINY_NERF_SIZE,
    "kplanes-dynamic": (*CPU_PROPOSAL, "--model.field.kplanes.multiscale", "1", "2", "--model.field.kplanes.features", "16"),
    # a 4x64 SDF network (skip at 2), 32 + 32 samples on 512 rays: the paper's 8x256 on 1024 rays ran ~1 step/s
    "volsdf": (
        "--rays-per-batch",
        "512",
        "--background",
        "white",
        "--model.field.width",
        "64",
        "--model.field.depth",
        "4",
        "--model.field.skips",
        "2",
        "--model.field.feature-size",
        "32",
        "--model.field.color-width",
        "64",
        "--model.field.color-depth",
        "2",
        "--model.n-samples",
        "32",
        "--model.n-importance",
        "32",
        "--model.eikonal-points",
        "256",
    ),
}
"""`latlas train` flags per method on a CPU (measured in BENCHMARKS.md, 'fast methods on CPU')."""


DECODER_CHANNEL_WEIGHTS = ("--latent.channel-weights", "decoder")
"""The latent loss weighs each channel by how much the decoder reads it (the default autoencoder's decoder reads
channel 0 for 90%; BENCHMARKS.md, session 31)."""

LATENT_CPU_FLAGS: dict[str, tuple[str, ...]] = {
    # 32 x 32 latents (128-pixel images, f4) need fewer samples per ray and a coarser grid than 128 x 128 pixels.
    # instant-ngp marches 64 steps per box diagonal, not 256, on batches of 8192 samples (more, smaller steps), and
    # weighs the latent loss by the decoder: objects128/bunny at 120 s 30.5 -> 33.2 dB decoded (0.8 under the
    # autoencoder's own reconstruction), 28 dB in 11 s, not 24. tensorf's grids stop at 64^3: bunny 32.3 -> 33.4 at
    # 120 s, 28 dB in 21 s, not > 30 (with the decoder's channel weights 33.7 at 120 s, but short runs get slow: no)
    # (BENCHMARKS.md, session 32)
    "instant-ngp": ("--model.steps-per-diagonal", "64", "--samples-per-batch", "8192", *DECODER_CHANNEL_WEIGHTS),
    # 256 rays per step, not 1024 (a 32 x 32 latent view is 1024 rays): 2.6-2.8x the steps in 120 s, +0.72 / +0.53 /
    # +0.10 / -0.24 dB decoded on bunny, suzanne and two synthesized objects, 28 dB on bunny in 6-7 s, not 17 (RGB
    # loses at 120 s with 256: -1.11 to +0.10 dB; it keeps 1024). The colour MLP stays 128 wide: 32 reaches 28 dB
    # sooner but loses 0.02-0.47 dB at 120 s (BENCHMARKS.md, sessions 55-56)
    "tensorf": ("--model.final-resolution", "64", "--rays-per-batch", "256"),
    # 16 + 16 samples per ray (RGB: 32 + 32) and the decoder's channel weights: objects128/bunny at 120 s 30.5 dB
    # decoded with 24 + 24, 31.1 with the weights, 31.9 with 16 + 16; with both 30.9-31.8 in four runs (2.2-3.0 under
    # the autoencoder; 0.55 under at 300 s), suzanne 32.0 (1.0 under) (BENCHMARKS.md, session 33)
    "triplane": ("--model.n-samples", "16", "--model.n-importance", "16", *DECODER_CHANNEL_WEIGHTS),
    # make demo's 16 x 16 latents (64-pixel views): the view direction fed to the colour head (an encoder's latents of a
    # surface change with the view) and 24 samples per ray, not 48 (now tiny-nerf's CPU default in RGB too): 25.8 -> 27.3
    # and 25.9 -> 26.7 dB decoded at 120 s in two runs (session 32)
    "tiny-nerf": ("--model.field.view-dependent",),
}
"""`latlas train --space latent` flags per method on a CPU, after CPU_FLAGS (the latent runs' CPU defaults)."""

RGB_CPU_FLAGS: dict[str, tuple[str, ...]] = {
    # two voxels per sample until the first alpha mask (at step 40 or later on a CPU's budget), where every sample of
    # every ray is evaluated: those steps cost half, +0.8 to +3.3 dB at 20 s on six objects (28 dB on bunny in 19 s,
    # not 22), -0.07 to +0.53 at 60 s (BENCHMARKS.md, session 54). Not in latent spaces: their first mask waits for
    # solid density (alpha_mask_min_peak), so the coarse march lasts longer (bunny 29.8 against 31.6 dB at 30 s)
    "tensorf": ("--model.step-ratio-before-mask", "2"),
}
"""`latlas train --space rgb` flags per method on a CPU, after CPU_FLAGS."""

SPACE_CPU_FLAGS: dict[str, dict[str, tuple[str, ...]]] = {"rgb": RGB_CPU_FLAGS, "latent": LATENT_CPU_FLAGS}
"""Per image space (`--space`): flags per method on a CPU, after CPU_FLAGS."""


def device_flags(method: str, device_type: str, space: str = "rgb") -> tuple[str, ...]:
    """Flags that fit `method` to a device type ('cpu' or 'cuda') and image space: on a CPU, CPU_FLAGS and the space's
    own after them (SPACE_CPU_FLAGS: RGB_CPU_FLAGS, LATENT_CPU_FLAGS); none on CUDA."""
    if device_type != "cpu":
        return ()
    return CPU_FLAGS.get(method, ()) + SPACE_CPU_FLAGS.get(space, {}).get(method, ())
