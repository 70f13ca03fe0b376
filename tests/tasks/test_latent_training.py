"""Every method trains in a latent space (both phases), resumes, and reports the four metric groups."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from latent_atlas.engine.precision import cpu_has_bf16, decoder_autocast_dtype
from latent_atlas.errors import ConfigError
from latent_atlas.evaluation.evaluate import EvalConfig, evaluate_run
from latent_atlas.losses.pixel import channel_weights
from latent_atlas.methods.registry import METHODS
from latent_atlas.spaces.ae_loading import save_pretrained
from latent_atlas.spaces.autoencoder_kl import AutoencoderKL
from latent_atlas.spaces.image_space import METRIC_GROUPS
from latent_atlas.spaces.presets import preset_config
from latent_atlas.tasks.latent_schedule import LatentTrainingConfig
from latent_atlas.tasks.scene import AE_DECODER, SceneTask, held_out_views
from tests.tasks.helpers import tiny_config


@pytest.fixture(scope="module")
def tiny_ae(tmp_path_factory):
    """A random-weight tiny autoencoder saved as a diffusers folder."""
    torch.manual_seed(0)
    return save_pretrained(AutoencoderKL(preset_config("tiny")), tmp_path_factory.mktemp("ae") / "autoencoder")


def _latent_config(tiny_scene, out, tiny_ae, method, steps=4, rays_per_batch=64, **overrides):
    latent = LatentTrainingConfig(decoder_start=0.5, loss_d_weight=1.0, cache_dir=out / "cache")
    cfg = tiny_config(
        tiny_scene, out, steps, method, rays_per_batch=rays_per_batch, space="latent", ae=str(tiny_ae), latent=latent, eval_images=1, log_every=1, **overrides
    )
    if hasattr(cfg.method.model, "occupancy_resolution"):
        cfg.method.model.occupancy_resolution = 32  # a 4x4-pixel latent scene needs no finer grid
    return cfg


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_trains_in_latent_space(method, tiny_scene, tmp_path, tiny_ae):
    # 16 rays per batch: this test checks the plumbing of both phases, not learning (the 8 x 256 MLPs of the
    # NeRF-sized methods made 4 steps of 64 rays 6-14 s on a 2-core CPU)
    trainer = SceneTask(_latent_config(tiny_scene, tmp_path, tiny_ae, method, rays_per_batch=16))
    assert trainer.model.channels == 4 and trainer.train_split.images.shape[1:] == (4, 4, 5)
    before = {k: v.clone() for k, v in trainer.space.autoencoder.decoder.state_dict().items()}
    run_dir = trainer.train()
    assert AE_DECODER in trainer.optimizers  # the decoded phase ran and fine-tuned the decoder
    after = trainer.space.autoencoder.decoder.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert any("loss_decoded" in line for line in lines)
    result = evaluate_run(EvalConfig(run=run_dir, max_images=2))
    results = result["results"]
    assert result["space"] == "latent"
    for group in METRIC_GROUPS:
        assert math.isfinite(results[group]["psnr"]) and math.isfinite(results[group]["ssim"])
    assert results["psnr"] == results["metrics_d"]["psnr"]
    dashboards = sorted(p.name for p in (run_dir / "eval" / "renders").glob("*_dashboard.png"))
    assert dashboards == sorted(f"{Path(row['image']).stem}_dashboard.png" for row in result["per_image"]) and len(dashboards) == 2


def test_latent_resume_restores_the_fine_tuned_decoder(tiny_scene, tmp_path, tiny_ae):
    cfg = _latent_config(tiny_scene, tmp_path, tiny_ae, "triplane", steps=6)
    first = SceneTask(cfg)
    run_dir = first.train()
    decoder = {k: v.clone() for k, v in first.space.autoencoder.decoder.state_dict().items()}
    resumed_cfg = dataclasses.replace(cfg, resume=run_dir, method=dataclasses.replace(cfg.method, max_steps=8))
    resumed = SceneTask(resumed_cfg)
    assert resumed.step == 6 and AE_DECODER in resumed.optimizers
    for k, v in resumed.space.autoencoder.decoder.state_dict().items():
        torch.testing.assert_close(v, decoder[k])
    resumed.train()
    assert resumed.step == 8


@pytest.fixture(scope="module")
def f2_ae(tiny_scene, tmp_path_factory):
    """A briefly trained f2 autoencoder (16 x 16 latents of the 32-pixel scene)."""
    from latent_atlas.spaces.autoencoder_kl import AutoencoderKLConfig
    from latent_atlas.spaces.presets import AE_PRESETS
    from latent_atlas.tasks.autoencoder import AETrainConfig, AETrainer

    AE_PRESETS["_test_f2"] = AutoencoderKLConfig(
        block_out_channels=(16, 32), layers_per_block=1, latent_channels=4, norm_num_groups=8, mid_block_add_attention=False
    )
    try:
        config = AETrainConfig(data=(tiny_scene,), preset="_test_f2", max_steps=100, batch_size=8, output_dir=tmp_path_factory.mktemp("f2"), progress=False)
        return AETrainer(config).train()
    finally:
        del AE_PRESETS["_test_f2"]


def _small_sdf(cfg):
    """A 3 x 64 SDF network on 64 rays per step (400 steps: 1.2 dB above the bound at seeds 0 and 1 in 27 s; 250 of 256
    rays cleared it by 0.6 dB in 60 s)."""
    cfg.method.rays_per_batch = 64
    field = cfg.method.model.field
    field.width, field.depth, field.skips, field.feature_size, field.color_width, field.color_depth = 64, 3, (), 16, 64, 2
    cfg.method.model.n_samples, cfg.method.model.n_importance, cfg.method.model.eikonal_points = 24, 24, 128
    cfg.method.optimizers["fields"].lr = 3e-3


def _small_nerf(cfg):
    field = cfg.method.model.field
    field.width, field.depth, field.skips, field.view_dependent, field.position_frequencies = 64, 3, (), False, 6
    cfg.method.model.n_samples, cfg.method.model.n_importance = 32, 0
    cfg.method.optimizers["fields"].lr = 3e-3


def _upsampled(cfg):
    from latent_atlas.methods.upsampling_model import NeuralUpsamplingConfig

    cfg.upsampling = NeuralUpsamplingConfig(factor=2, features=8)
    cfg.method.sampler, cfg.method.patch_size, cfg.method.rays_per_batch, cfg.background = "patches", 8, 1024, "white"
    cfg.method.model.n_samples = 48  # the registry's: with the tests' 24 this case cleared its bound by 0.16 dB (0.42 at 48)


def _learned_background(cfg):
    cfg.background = "learned"


def _small_dnerf(cfg):
    _small_nerf(cfg)
    cfg.method.model.deformation.width, cfg.method.model.deformation.depth, cfg.method.model.deformation.skips = 64, 3, ()


def _small_dynamic_kplanes(cfg):
    model = cfg.method.model
    model.field.kplanes.base_resolution, model.field.kplanes.multiscale, model.field.kplanes.features = 16, (1,), 16
    model.proposal_resolutions, model.proposal_samples, model.nerf_samples = (16, 16), (32, 16), 16


def _small_tensorf(cfg):
    model = cfg.method.model
    model.initial_resolution, model.final_resolution = 16, 48
    model.step_ratio = 1.0  # one sample per voxel (its CPU default): the same margin as 0.5 in 0.6x the time


LATENT_CASES = {  # name: (method, steps, how the config changes, dynamic scene)
    "tiny-nerf": ("tiny-nerf", 300, lambda cfg: None, False),
    "tensorf": ("tensorf", 100, _small_tensorf, False),
    "volsdf": ("volsdf", 400, _small_sdf, False),
    "nerf-ae": ("nerf-ae", 200, _small_nerf, False),
    "neural-upsampling": ("tiny-nerf", 200, _upsampled, False),
    "learned-background": ("tiny-nerf", 300, _learned_background, False),
    "mip-cone": ("tiny-nerf", 200, lambda cfg: setattr(cfg.method.model, "mip", "cone"), False),
    "dnerf": ("dnerf", 200, _small_dnerf, True),
    "kplanes-dynamic": ("kplanes-dynamic", 250, _small_dynamic_kplanes, True),
}


@pytest.mark.parametrize("case", sorted(LATENT_CASES))
def test_latent_nerf_learns_the_latent_images(tiny_scene, dynamic_scene, tmp_path, f2_ae, case):
    """A NeRF (and each NeRF Atlas model and option) in the latent space of a briefly trained f2 autoencoder beats
    a constant (mean latent) prediction by a wide margin on held-out views (a margin independent of the latents' scale)."""
    method, steps, change, dynamic = LATENT_CASES[case]
    cfg = _latent_config(dynamic_scene if dynamic else tiny_scene, tmp_path, f2_ae, method, steps=steps)
    cfg.latent.decoder_start = 1.0  # latent loss only
    cfg.method.rays_per_batch = 256
    change(cfg)
    run_dir = SceneTask(cfg).train()
    result = evaluate_run(EvalConfig(run=run_dir, save_images=False))
    trainer = SceneTask(dataclasses.replace(cfg, resume=run_dir))
    test = trainer.scene.split("test").images[..., :-1]
    constant = trainer.train_split.images[..., :-1].mean(dim=(0, 1, 2))
    baseline = float(-10 * torch.log10(((test - constant) ** 2).mean()))
    assert result["results"]["metrics_e"]["psnr"] > baseline + 6.0, (result["results"]["metrics_e"], baseline, result["results"]["metrics_d"])


def test_decoded_crop_decodes_a_square_of_a_training_view(tiny_scene, tmp_path, tiny_ae):
    """--latent.decoded-crop 2: loss_d renders a 2 x 2-latent square of a random training view, decodes it and
    compares it with the same square of the image: numerically the full render's square, decoded."""
    from latent_atlas.data.scene import composite_on_background
    from latent_atlas.evaluation.render_views import render_full_view

    cfg = _latent_config(tiny_scene, tmp_path, tiny_ae, "triplane")
    cfg.latent.decoded_crop = 2
    trainer = SceneTask(cfg)
    trainer.model.eval()  # deterministic samples: the crop's render equals the full render's pixels
    generator = trainer.sampler.generator
    state = generator.get_state()
    decoded = []
    decode = trainer.space.decode
    trainer.space.decode = lambda values, *args: decoded.append(values.shape) or decode(values, *args)
    with torch.no_grad():
        loss = trainer.decoded_loss()
    assert decoded == [torch.Size([1, 2, 2, 4])]
    generator.set_state(state)  # the same draws: view (of those the field fits), then the square's corner
    index = trainer.fitted_views[int(torch.randint(len(trainer.fitted_views), (1,), generator=generator))]
    h, w = trainer.train_split.height, trainer.train_split.width
    x0, y0 = int(torch.randint(w - 1, (1,), generator=generator)), int(torch.randint(h - 1, (1,), generator=generator))
    with torch.no_grad():
        full = render_full_view(trainer.model, trainer.train_cameras, index, trainer.background_value, trainer.box_min, trainer.box_max)["color"]
        image = composite_on_background(trainer.rgb_scene.split("train").rgba(index), trainer.rgb_background)
        f = image.shape[0] // h
        expected = torch.mean((decode(full[None, y0 : y0 + 2, x0 : x0 + 2])[0] - image[y0 * f : (y0 + 2) * f, x0 * f : (x0 + 2) * f]) ** 2)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-7)


def _decoded_loss_in(precision, tiny_scene, out, tiny_ae):
    """loss_d of one seeded decoded-phase draw, the decoder's first conv gradient, and the dtypes that conv ran in."""
    cfg = _latent_config(tiny_scene, out, tiny_ae, "triplane")
    cfg.latent.decoder_precision = precision
    trainer = SceneTask(cfg)
    trainer.model.eval()  # deterministic samples
    trainer._start_decoder_finetuning()  # the decoded phase trains the decoder
    dtypes = []
    conv = trainer.space.autoencoder.decoder.conv_in
    conv.register_forward_hook(lambda module, args, output: dtypes.append(output.dtype))
    trainer.sampler.generator.manual_seed(5)
    loss = trainer.decoded_loss()
    loss.backward()
    return loss.item(), conv.weight.grad.clone(), dtypes


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no bf16 units (AVX512-BF16 or AMX)")
def test_bf16_decoder_in_the_decoded_phase_agrees_with_fp32(tiny_scene, tmp_path, tiny_ae):
    """--latent.decoder-precision bf16: the decoder's convolutions run in bf16, loss_d (fp32) and its gradients stay
    within about 1% of fp32's on the same view."""
    reference, reference_grad, reference_dtypes = _decoded_loss_in("fp32", tiny_scene, tmp_path / "fp32", tiny_ae)
    fast, fast_grad, fast_dtypes = _decoded_loss_in("bf16", tiny_scene, tmp_path / "bf16", tiny_ae)
    assert set(reference_dtypes) == {torch.float32} and set(fast_dtypes) == {torch.bfloat16}
    assert fast == pytest.approx(reference, rel=2e-2) and fast != reference
    assert torch.nn.functional.cosine_similarity(fast_grad.flatten(), reference_grad.flatten(), dim=0) > 0.99


def test_bf16_decoder_is_refused_on_a_cpu_without_bf16_units(tiny_scene, tmp_path, tiny_ae, monkeypatch):
    monkeypatch.setattr("latent_atlas.engine.precision.cpu_has_bf16", lambda: False)
    cfg = _latent_config(tiny_scene, tmp_path, tiny_ae, "triplane")
    cfg.latent.decoder_precision = "bf16"
    with pytest.raises(ConfigError, match=r"--latent.decoder-precision bf16: this CPU has no bf16 units \(AVX512-BF16 or AMX\); use fp32 or auto"):
        SceneTask(cfg)


@pytest.mark.parametrize("has_bf16", [True, False])
def test_auto_decoder_precision_follows_the_cpu(has_bf16, monkeypatch):
    """auto: bf16 on a CPU with bf16 units, fp32 (None) on one without; never an error."""
    monkeypatch.setattr("latent_atlas.engine.precision.cpu_has_bf16", lambda: has_bf16)
    assert decoder_autocast_dtype("auto", torch.device("cpu")) == (torch.bfloat16 if has_bf16 else None)


def test_held_out_views_are_evenly_spaced():
    assert held_out_views(100, 0.1) == [5, 15, 25, 35, 45, 55, 65, 75, 85, 95]
    assert held_out_views(40, 0.0) == [] and held_out_views(4, 0.1) == [] and held_out_views(3, 0.34) == [1]
    with pytest.raises(ConfigError, match="holds out all 4 training views"):
        held_out_views(4, 0.9)


def test_held_out_views_are_never_fitted_and_train_the_decoder_only(tiny_scene, tmp_path, tiny_ae):
    """--latent.held-out-share 0.1: the field's pixel batches never come from the held-out training views; a held-out
    view's decoded loss reaches the decoder and no parameter of the field; the decoded phase alternates the two."""
    cfg = _latent_config(tiny_scene, tmp_path, tiny_ae, "triplane")
    cfg.latent.held_out_share = 0.1
    trainer = SceneTask(cfg)
    assert trainer.held_out_views == [5, 15, 25, 35]  # of the 40 training views
    drawn = torch.cat([trainer.sampler.sample(256).camera_indices for _ in range(40)]).unique().tolist()
    assert drawn == [i for i in range(40) if i not in (5, 15, 25, 35)]
    trainer._start_decoder_finetuning()
    trainer.decoded_loss(held_out=True).backward()
    assert all(p.grad is None for p in trainer.model.parameters())
    decoder_grads = [p.grad for p in trainer.space.parameters("decoder").values()]
    assert all(g is not None for g in decoder_grads) and sum(float(g.abs().sum()) for g in decoder_grads) > 0
    seen = []
    decoded_loss = trainer.decoded_loss
    trainer.decoded_loss = lambda held_out=False: seen.append(held_out) or decoded_loss(held_out)
    trainer.train()
    assert seen == [False, True]  # steps 2 and 3 of 4 (decoded phase from half the run)


def test_decoder_head_learns_alone_from_decoded_views_the_field_never_learns_from(tiny_scene, tmp_path, tiny_ae):
    """--latent.decoder-part head --latent.no-decoded-field-gradient: loss_d's gradients reach the decoder's head and
    neither its trunk nor the field; a run's decoded phase changes the head's weights and leaves the trunk's."""
    cfg = _latent_config(tiny_scene, tmp_path, tiny_ae, "triplane")
    cfg.latent = dataclasses.replace(cfg.latent, decoder_part="head", decoded_field_gradient=False)
    trainer = SceneTask(cfg)
    head = set(trainer.space.parameters("decoder-head"))
    decoder = trainer.space.parameters("decoder")
    assert head and head < set(decoder)
    before = {k: p.detach().clone() for k, p in decoder.items()}
    trainer._start_decoder_finetuning()
    trainer.decoded_loss().backward()
    assert all(p.grad is None for p in trainer.model.parameters())
    assert {k for k, p in decoder.items() if p.grad is not None and float(p.grad.abs().sum()) > 0} == head
    for p in decoder.values():
        p.grad = None
    trainer.train()
    changed = {k for k, p in decoder.items() if not torch.equal(p.detach(), before[k])}
    assert changed == head


def test_a_decoded_loss_that_trains_nothing_is_refused(tiny_scene, tmp_path, tiny_ae):
    cfg = _latent_config(tiny_scene, tmp_path, tiny_ae, "triplane")
    cfg.latent = dataclasses.replace(cfg.latent, finetune_decoder=False, decoded_field_gradient=False)
    with pytest.raises(ConfigError, match="the decoded loss would train nothing"):
        SceneTask(cfg)


def test_decoder_channel_weights_scale_the_latent_loss(tiny_scene, tmp_path, tiny_ae):
    """--latent.channel-weights decoder: the latent loss weighs channel c by the decoder's sensitivity to it (the
    space's measure on four training views, floored, mean 1); the logged loss is that weighted mean square."""
    cfg = _latent_config(tiny_scene, tmp_path, tiny_ae, "triplane", steps=2)
    assert SceneTask(cfg).channel_scale is None  # uniform: the default
    cfg.latent.channel_weights = "decoder"
    trainer = SceneTask(cfg)
    views = torch.linspace(0, len(trainer.train_split) - 1, 4).round().long()
    sensitivity = trainer.space.channel_sensitivity(trainer.train_split.rgba(views)[..., :4], generator=torch.Generator().manual_seed(cfg.seed))
    torch.testing.assert_close(trainer.channel_scale**2, channel_weights(sensitivity, cfg.latent.channel_weight_floor))
    trainer.channel_scale = torch.tensor([2.0, 0.0, 0.0, 0.0])  # only channel 0 counts, weighted 4
    batch = trainer.sampler.sample(64)
    target = batch.rgba[..., :4]
    prediction = torch.zeros_like(target, requires_grad=True)
    captured = {}
    trainer.model.loss_dict = lambda outputs, goal, pixel_loss: captured.setdefault("losses", pixel_loss(prediction, goal))
    trainer.sampler.sample = lambda *args, **kwargs: batch
    trainer._render_batch = lambda batch, bg: {"color": prediction.clone()}
    trainer.train_step()
    expected = torch.mean((2.0 * target[..., :1]) ** 2) / 4  # four channels in the mean, three weighted 0
    assert float(sum(captured["losses"].values()).detach()) == pytest.approx(float(expected), rel=1e-5)


def test_collapse_guard_judges_the_decoded_view_in_the_decoded_phase(tiny_scene, tmp_path, tiny_ae):
    """In the decoded phase loss_d leads and the latents drift from the encoder's (with channel weights, the unread
    channels go): the guard's fit is the decoded view's error against its best constant colour, not the latent fit
    (which had 'collapsed' healthy latent triplane runs, session 33)."""
    from latent_atlas.data.scene import composite_on_background

    cfg = _latent_config(tiny_scene, tmp_path, tiny_ae, "triplane")
    cfg.latent.decoder_start, cfg.latent.loss_d_weight = 0.0, 3.0  # decoded from the first step
    trainer = SceneTask(cfg)
    scalars = trainer.train_step()
    assert math.isclose(scalars["fit_mse"], scalars["loss_decoded"] / 3.0, rel_tol=1e-5)
    views = composite_on_background(trainer.rgb_scene.split("train").rgba(slice(None)), trainer.rgb_background)
    constant_errors = ((views - views.mean(dim=(1, 2), keepdim=True)) ** 2).mean(dim=(1, 2, 3))
    assert torch.isclose(constant_errors, torch.tensor(scalars["baseline_mse"]), rtol=1e-4).any()
    latent_only = SceneTask(_latent_config(tiny_scene, tmp_path / "latent", tiny_ae, "triplane"))  # decoded phase at 0.5
    scalars = latent_only.train_step()
    assert "loss_decoded" not in scalars and scalars["fit_mse"] != scalars["baseline_mse"]
