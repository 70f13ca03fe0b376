"""The CPU defaults of `latlas train`: every method's flags parse, and the sizes that the benchmarks measured hold."""

import pytest

from latent_atlas.cli.main import parse_flags
from latent_atlas.methods.defaults import CPU_FLAGS, LATENT_CPU_FLAGS, RGB_CPU_FLAGS, device_flags
from latent_atlas.methods.registry import method_config
from latent_atlas.tasks.scene_config import TrainConfig


def _parsed(method: str, space: str = "rgb") -> TrainConfig:
    default = TrainConfig(method_name=method, method=method_config(method))
    return parse_flags(TrainConfig, default=default, args=[*device_flags(method, "cpu", space), "--data", "scene", "--space", space], prog="test")


def _parsed_rgb_flags_only(method: str) -> TrainConfig:
    """The method with CPU_FLAGS and RGB_CPU_FLAGS only: what an RGB run starts from on a CPU."""
    default = TrainConfig(method_name=method, method=method_config(method))
    return parse_flags(TrainConfig, default=default, args=[*CPU_FLAGS.get(method, ()), *RGB_CPU_FLAGS.get(method, ()), "--data", "scene"], prog="test")


@pytest.mark.parametrize("method", sorted(CPU_FLAGS))
def test_cpu_flags_parse_for_their_method(method):
    config = _parsed(method)
    if "--rays-per-batch" in CPU_FLAGS[method]:
        assert config.method.rays_per_batch <= 1024  # CPU-sized batches (the GPU defaults are 4096)


def test_cpu_defaults_are_sized_for_128_pixel_images():
    """tensorf's grids stop at 128^3: at 200^3 (the official TensoRF's CPU run) a 2-minute bunny run made 2.3 steps/s
    and 29.1 dB against 6.1 and 36.2 at 128^3 (BENCHMARKS.md, native kernels section)."""
    tensorf = _parsed("tensorf").method.model
    assert (tensorf.initial_resolution, tensorf.final_resolution) == (64, 128)
    assert tensorf.step_ratio == 1.0  # one sample per voxel on a CPU (the paper's 0.5: fewer steps, lower PSNR at 120 s)
    # two voxels per sample before the first alpha mask in RGB (+0.8 to +3.3 dB at 20 s, session 54), not in latents
    assert tensorf.step_ratio_before_mask == 2.0 and _parsed("tensorf", "latent").method.model.step_ratio_before_mask == 1.0
    assert method_config("tensorf").model.step_ratio_before_mask == 1.0  # the paper's march on CUDA
    ngp = _parsed("instant-ngp")
    assert ngp.method.samples_per_batch == 16384  # bunny at 28 dB in 9 s, not 13 (session 32)
    assert ngp.method.model.field.hash_grid.n_levels == 8 and ngp.method.model.field.hash_grid.max_resolution == 512
    assert device_flags("tensorf", "cuda") == ()  # on CUDA: the papers' settings


@pytest.mark.parametrize("method", ["tensorf", "instant-ngp", "nerfacto", "kplanes", "triplane"])
def test_fast_methods_draw_rays_from_the_error_map_on_a_cpu(method):
    """Uniform rays left the grid methods 5-7 dB under tensorf on a textured object at 120 s: most of them land on
    the empty background (BENCHMARKS.md, session 17). On CUDA the default stays uniform (not measured there)."""
    assert _parsed(method).method.sampler == "importance"
    assert method_config(method).sampler == "rays"


def test_kplanes_planes_start_larger_on_a_cpu():
    """At the paper's init ([0.1, 0.5]) 900-step kplanes runs on a textured object ended 1.4-3.0 dB lower than at
    [0.5, 1] (BENCHMARKS.md, session 18); on CUDA the paper's init stays."""
    cpu = _parsed("kplanes").method.model.field.kplanes
    assert (cpu.init_low, cpu.init_high) == (0.5, 1.0)
    paper = method_config("kplanes").model.field.kplanes
    assert (paper.init_low, paper.init_high) == (0.1, 0.5)


def test_tensorf_adam_eps_leaves_small_latent_gradients_their_steps():
    """With Adam's eps at the paper's 1e-8, latent tensorf on objects128/bunny stayed empty until the collapse guard
    stopped it (both built-in autoencoders); at 1e-15 it decoded to 28.4 dB in 120 s and RGB was unchanged
    (BENCHMARKS.md, session 20). The grids' early gradients in a latent space are below 1e-8."""
    optimizers = method_config("tensorf").optimizers
    assert optimizers["grids"].eps <= 1e-12 and optimizers["networks"].eps <= 1e-12


@pytest.mark.parametrize("method", sorted(LATENT_CPU_FLAGS))
def test_latent_cpu_flags_parse_and_leave_rgb_runs_alone(method):
    latent, rgb = _parsed(method, "latent"), _parsed(method, "rgb")
    assert latent.method != rgb.method or latent.latent != rgb.latent
    assert rgb.method == _parsed_rgb_flags_only(method).method  # no latent flag reaches an RGB run
    if "--rays-per-batch" not in LATENT_CPU_FLAGS[method]:
        assert latent.method.rays_per_batch == rgb.method.rays_per_batch  # CPU_FLAGS still apply, the latent ones after them
    assert device_flags(method, "cuda", "latent") == ()


def test_latent_instant_ngp_weighs_its_loss_by_the_decoder_on_a_cpu():
    """+1.3 dB decoded at 120 s on objects128/bunny (BENCHMARKS.md, sessions 31-32); not tensorf, whose short runs it
    slows (28 dB at 30 s: missed with it, 21 s without); RGB runs have no such weights."""
    assert _parsed("instant-ngp", "latent").latent.channel_weights == "decoder"
    assert _parsed("tensorf", "latent").latent.channel_weights == "uniform"
    assert _parsed("instant-ngp", "rgb").latent.channel_weights == "uniform"


def test_latent_runs_sample_at_the_latents_resolution_on_a_cpu():
    """32 x 32 latents of 128-pixel views: a quarter of instant-ngp's steps per ray, half of tensorf's grid per side
    (objects128/bunny, side by side: instant-ngp 30.5 -> 33.2 dB decoded at 120 s with its channel weights, tensorf 32.3 ->
    33.4; BENCHMARKS.md, session 32)."""
    ngp, ngp_rgb = _parsed("instant-ngp", "latent").method, _parsed("instant-ngp").method
    assert ngp.model.steps_per_diagonal * 4 == ngp_rgb.model.steps_per_diagonal == 256
    assert ngp.samples_per_batch == 8192
    tensorf, tensorf_rgb = _parsed("tensorf", "latent").method.model, _parsed("tensorf").method.model
    assert tensorf.final_resolution * 2 == tensorf_rgb.final_resolution == 128
    triplane, triplane_rgb = _parsed("triplane", "latent").method, _parsed("triplane").method
    assert (triplane.model.n_samples, triplane.model.n_importance) == (16, 16)
    assert (triplane_rgb.model.n_samples, triplane_rgb.model.n_importance) == (32, 32)


def test_latent_tensorf_draws_256_rays_per_step_on_a_cpu():
    """A 32 x 32 latent view is 1024 rays: 256 per step made 2.6-2.8x the steps in 120 s and -0.24 to +0.72 dB decoded
    on four objects (+0.28 on average), 28 dB on objects128/bunny in 6-7 s, not 17; RGB tensorf keeps 1024 (256 lost up
    to 1.1 dB at 120 s) (BENCHMARKS.md, sessions 55-56). On CUDA the registry's batch in both spaces."""
    assert _parsed("tensorf", "latent").method.rays_per_batch == 256
    assert _parsed("tensorf", "rgb").method.rays_per_batch == 1024
    assert device_flags("tensorf", "cuda", "latent") == ()


def test_tiny_nerf_samples_24_points_per_ray_on_a_cpu_in_both_spaces():
    """48 samples per ray left make demo's RGB tiny-nerf at 21 dB after 120 s on a Zen 1 CPU (557 steps), 24 reached
    26.6 (958 steps); objects128 bunny / suzanne +1.6 / +1.7 dB; dnerf and nerf-ae at its size +1.7 / +4.0 dB
    (BENCHMARKS.md, session 46). On CUDA the registry's 48."""
    for method in ("tiny-nerf", "dnerf", "nerf-ae"):
        assert _parsed(method).method.model.n_samples == 24, method
    latent = _parsed("tiny-nerf", "latent").method.model
    assert latent.n_samples == 24 and latent.field.view_dependent
    assert method_config("tiny-nerf").model.n_samples == 48 and device_flags("tiny-nerf", "cuda") == ()


def test_tiny_nerf_draws_512_rays_per_step_on_a_cpu_in_both_spaces():
    """512 rays per step, not 1024, made 1.6-1.9x the steps in 120 s on make demo's scene: RGB 26.98 -> 27.48 dB on
    average of four seeds, latent 25.91 -> 26.89 decoded of three (BENCHMARKS.md, session 47). On CUDA the registry's
    1024."""
    assert _parsed("tiny-nerf", "latent").method.rays_per_batch == _parsed("tiny-nerf", "rgb").method.rays_per_batch == 512
    assert method_config("tiny-nerf").rays_per_batch == 1024 and device_flags("tiny-nerf", "cuda", "latent") == ()


def test_triplane_runs_cpu_sized_batches():
    """4096 rays of 48 + 48 samples made 3 steps/s on a 2-core CPU: objects128/bunny 25.9 dB at 120 s against 35.2
    with 1024 rays of 32 + 32 (BENCHMARKS.md, session 33); 512 rays +1.2 / +1.4 dB on bunny / suzanne in RGB, +1.6 /
    +0.9 decoded in latent space (a Zen 1 EPYC, session 47); on CUDA the paper's sizes stay."""
    cpu, paper = _parsed("triplane").method, method_config("triplane")
    assert cpu.rays_per_batch == _parsed("triplane", "latent").method.rays_per_batch == 512 and paper.rays_per_batch == 4096
    assert (paper.model.n_samples, paper.model.n_importance) == (48, 48)
