"""IG-AE, Scaled-IG stage 1 and stage 2, and RGB Tri-Planes: a few steps each on synthesized cars."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from latent_atlas.cli.main import main
from latent_atlas.data.scene import composite_on_background
from latent_atlas.data.synth.writer import SynthConfig, synthesize
from latent_atlas.engine.precision import cpu_has_bf16
from latent_atlas.errors import ConfigError, TrainingCollapsedError
from latent_atlas.losses.pixel import channel_weights
from latent_atlas.scaled.presets import scaled_preset
from latent_atlas.scaled.trainer import MultiSceneTrainer


@pytest.fixture(scope="module")
def cars(tmp_path_factory):
    """Four 32x32 car scenes (a family with dataset_map.json)."""
    root = tmp_path_factory.mktemp("cars")
    synthesize(SynthConfig(output=root, family="cars", num_scenes=4, resolution=32, num_train=4, num_val=1, num_test=1, seed=5, supersample=1))
    return root


def _small(name: str, cars, out, **overrides):
    cfg = scaled_preset(name)
    cfg.data = (cars,)
    cfg.output_dir = out
    cfg.progress = False
    cfg.eval_views = 1
    cfg.n_samples, cfg.n_importance = 8, 8
    for phase in cfg.phases:
        phase.epochs = 1.0
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


def _killed_before_last_checkpoint(run: Path, dest: Path) -> Path:
    """A copy of a finished run folder without its last checkpoint: what a kill before that save leaves."""
    shutil.copytree(run, dest)
    last = sorted((dest / "checkpoints").glob("step-*.json"))[-1]
    for path in (dest / "checkpoints").glob(last.stem + ".*"):
        path.unlink()
    return dest


def test_igae_then_stage1_then_stage2(cars, tmp_path, monkeypatch):
    monkeypatch.setenv("LATLAS_CACHE_DIR", str(tmp_path / "cache"))
    igae = MultiSceneTrainer(_small("igae-cpu", cars, tmp_path, ae_preset="tiny"))
    enc_before = {k: v.clone() for k, v in igae.space.autoencoder.encoder.state_dict().items()}
    run = igae.train()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == igae.total_steps == 8  # 2 phases x 16 training views / 4 scenes per step
    assert summary["kind"] == "igae" and summary["space"] == "latent"
    assert all(math.isfinite(v) for v in summary["eval"].values())
    assert any(not torch.equal(enc_before[k], v) for k, v in igae.space.autoencoder.encoder.state_dict().items())  # joint phase
    assert (run / "autoencoder" / "config.json").is_file()  # usable as --ae

    stage1 = MultiSceneTrainer(_small("scale-stage1-cpu", cars, tmp_path, ae=str(run), num_scenes=2))
    run1 = stage1.train()
    macro = stage1.field.table.macro.detach().clone()

    stage2 = MultiSceneTrainer(_small("scale-stage2-cpu", cars, tmp_path, init=run1, first_scene=2, num_scenes=2))
    torch.testing.assert_close(stage2.field.table.macro, macro)  # macro basis from stage 1
    encoder = {k: v.clone() for k, v in stage2.space.autoencoder.encoder.state_dict().items()}
    run2 = stage2.train()
    assert not torch.equal(stage2.field.table.macro, macro)  # fine-tuned in scale-stage2-cpu (the default)
    for k, v in stage2.space.autoencoder.encoder.state_dict().items():
        torch.testing.assert_close(v, encoder[k])  # encoder frozen
    s2 = json.loads((run2 / "summary.json").read_text())
    assert s2["scenes"] == 2 and [p["scene"] for p in s2["per_scene"]] == ["scene_002", "scene_003"]
    assert 0 < s2["scene_parameters"] < s2["shared_parameters"]
    # scenes 2-3 were new to this autoencoder: their 3 splits each encoded, not read from the cache, and that time
    # reported apart from train_seconds; the latent targets held in fp16 (the default --target-precision)
    assert s2["encoded_splits"] == {"encoded": 6, "cached": 0} and s2["prepare_seconds_per_scene"] > 0
    assert stage2.scenes[0].split("train").images.dtype == torch.float16

    frozen_cfg = _small("scale-stage2-cpu", cars, tmp_path / "frozen", init=run1, first_scene=2, num_scenes=2)
    frozen_cfg.phases = tuple(dataclasses.replace(phase, train_macro=False) for phase in frozen_cfg.phases)
    frozen = MultiSceneTrainer(frozen_cfg)
    frozen.train()
    torch.testing.assert_close(frozen.field.table.macro, macro)  # the papers' stage 2: basis frozen
    assert frozen.space.encoded_splits() == {"encoded": 0, "cached": 6}  # the same pixels and encoder: every split cached


def test_rgb_triplanes_learn_through_cli(cars, tmp_path, capsys):
    args = [
        "triplanes",
        "--data",
        str(cars),
        "--output-dir",
        str(tmp_path),
        "--no-progress",
        "--phases.0.epochs",
        "40",
        "--n-samples",
        "16",
        "--n-importance",
        "16",
        "--rays-per-view",
        "256",
        "--eval-views",
        "2",
    ]
    assert main(args) == 0
    run = capsys.readouterr().out.strip().splitlines()[-1].split("run folder: ")[1]
    summary = json.loads((Path(run) / "summary.json").read_text())
    white = _white_psnr(cars)  # ~10 dB on these cars; 4 training views per scene only
    assert summary["eval"]["psnr_e"] > white + 5.0, (summary["eval"], white)


def _white_psnr(cars) -> float:
    """Mean PSNR of an all-white render (the background) against each car's first test view."""
    from latent_atlas.data.scene_set import load_scene_set
    from latent_atlas.evaluation.metrics import psnr

    scenes = load_scene_set([cars]).scenes
    return sum(psnr(torch.ones(32, 32, 3), composite_on_background(s.split("test").rgba(0), torch.ones(3))) for s in scenes) / len(scenes)


@pytest.mark.gpu
def test_rgb_triplanes_and_stage2_train_on_cuda(cars, tmp_path, monkeypatch):
    monkeypatch.setenv("LATLAS_CACHE_DIR", str(tmp_path / "cache"))
    cfg = _small("triplanes-rgb-cpu", cars, tmp_path / "rgb", device="cuda", rays_per_view=256, n_samples=16, n_importance=16, eval_views=2)
    cfg.phases[0].epochs = 40
    rgb = MultiSceneTrainer(cfg)
    summary = json.loads((rgb.train() / "summary.json").read_text())
    assert next(rgb.field.parameters()).device.type == "cuda"
    assert summary["eval"]["psnr_e"] > _white_psnr(cars) + 5.0  # the CPU test's bound
    assert summary["peak_memory_mb"] > 0  # the GPU's peak allocation

    stage2 = MultiSceneTrainer(_small("scale-stage2-cpu", cars, tmp_path / "s2", device="cuda", ae_preset="tiny", num_scenes=2, decoded_crop=2))
    s2 = json.loads((stage2.train() / "summary.json").read_text())  # latent phase of drawn rays, decoded phase of crops
    assert s2["steps"] == stage2.total_steps and all(math.isfinite(v) for v in s2["eval"].values())


def test_resume_after_a_kill_continues(cars, tmp_path):
    """A run killed after a checkpoint (the later ones deleted) resumes to the same planes as an unbroken run."""
    cfg = _small("triplanes-rgb-cpu", cars, tmp_path, rays_per_view=64, checkpoint_every_seconds=0.0)
    straight = MultiSceneTrainer(cfg)
    run = straight.train()
    killed = _killed_before_last_checkpoint(run, tmp_path / "killed")
    resumed = MultiSceneTrainer(_small("triplanes-rgb-cpu", cars, tmp_path, rays_per_view=64, resume=killed))
    assert resumed.step == straight.step - 1
    resumed.train()
    torch.testing.assert_close(resumed.field.table.planes, straight.field.table.planes)


def test_damaged_newest_checkpoint_resumes_from_the_one_before(cars, tmp_path, capsys):
    cfg = _small("triplanes-rgb-cpu", cars, tmp_path, rays_per_view=64, checkpoint_every_seconds=0.0)
    run = MultiSceneTrainer(cfg).train()
    newest = sorted((run / "checkpoints").glob("step-*.safetensors"))[-1]
    newest.write_bytes(newest.read_bytes()[:100])
    resumed = MultiSceneTrainer(_small("triplanes-rgb-cpu", cars, tmp_path, rays_per_view=64, resume=run))
    assert resumed.step == 3 and f"{newest.name}: checkpoint cut short or damaged" in capsys.readouterr().err


def test_cli_run_dir_starts_then_continues(cars, tmp_path, capsys):
    """--run-dir DIR starts a run in DIR when it is new, and continues it later (torchrun restarts rely on this);
    --resume with a folder that holds no run is an error, never a new run."""
    run = tmp_path / "fixed"
    base = [
        "triplanes",
        "--data",
        str(cars),
        "--no-progress",
        "--n-samples",
        "8",
        "--n-importance",
        "8",
        "--rays-per-view",
        "32",
        "--eval-views",
        "1",
        "--run-dir",
        str(run),
    ]
    assert main([*base[:-2], "--resume", str(run)]) == 2 and "not a run folder" in capsys.readouterr().err
    assert main(base + ["--phases.0.epochs", "1"]) == 0
    assert json.loads((run / "summary.json").read_text())["steps"] == 4
    assert main(base + ["--phases.0.epochs", "2"]) == 0
    assert json.loads((run / "summary.json").read_text())["steps"] == 8
    assert len(list((run / "checkpoints").glob("step-*.json"))) == 2


def test_saved_activations_per_scene_grow_with_rays(cars, tmp_path):
    """The measured activation memory per rendered scene is the scene's gathered planes plus a cost per ray."""
    per_scene = []
    for rays in (64, 128, 192):
        trainer = MultiSceneTrainer(_small("triplanes-rgb-cpu", cars, tmp_path / str(rays), rays_per_view=rays))
        trainer.measured_train_step()
        per_scene.append(trainer.saved_activation_mb)
        assert trainer.cost_per_scene(0.0)["saved_activations_per_scene_mb"] == trainer.saved_activation_mb
    per_64_rays = per_scene[1] - per_scene[0]
    assert per_64_rays > 0 and abs((per_scene[2] - per_scene[1]) / per_64_rays - 1.0) < 0.1, per_scene
    plane_mb = trainer.field.table.planes[0].numel() * 4 / 2**20  # one scene's planes, fp32
    assert per_scene[0] - per_64_rays >= plane_mb, (per_scene, plane_mb)  # what no ray count removes


def test_row_adam_trains_only_the_rendered_scenes_and_resumes(cars, tmp_path):
    """--scene-optimizer row-adam: scenes outside a step's batch keep their planes; a killed run resumes exactly."""
    cfg = _small("triplanes-rgb-cpu", cars, tmp_path, rays_per_view=64, scenes_per_batch=1, scene_optimizer="row-adam", checkpoint_every_seconds=0.0)
    trainer = MultiSceneTrainer(cfg)
    before = trainer.field.table.planes.detach().clone()
    trainer.measured_train_step()
    moved = (trainer.field.table.planes.detach() != before).flatten(1).any(dim=1)
    assert moved.sum() == 1  # one scene per step: only its planes changed
    run = MultiSceneTrainer(_small("triplanes-rgb-cpu", cars, tmp_path / "a", rays_per_view=64, scene_optimizer="row-adam", checkpoint_every_seconds=0.0))
    run_dir = run.train()
    killed = _killed_before_last_checkpoint(run_dir, tmp_path / "killed")
    resumed = MultiSceneTrainer(_small("triplanes-rgb-cpu", cars, tmp_path / "b", rays_per_view=64, scene_optimizer="row-adam", resume=killed))
    resumed.train()
    torch.testing.assert_close(resumed.field.table.planes, run.field.table.planes)


def test_lazy_adam_trains_as_dense_adam_and_resumes(cars, tmp_path):
    """--scene-optimizer lazy-adam: one scene per step, the others caught up when rendered, evaluated or saved:
    the planes end where torch's dense Adam puts them, and a killed run resumes exactly."""
    settings = dict(rays_per_view=64, scenes_per_batch=1, checkpoint_every_seconds=0.0)
    dense = MultiSceneTrainer(_small("triplanes-rgb-cpu", cars, tmp_path / "dense", **settings))
    dense.train()
    lazy = MultiSceneTrainer(_small("triplanes-rgb-cpu", cars, tmp_path / "lazy", scene_optimizer="lazy-adam", **settings))
    lazy_dir = lazy.train()
    assert lazy.total_steps >= 8
    assert lazy.field.table.planes.grad is None or lazy.field.table.planes.grad.is_sparse
    torch.testing.assert_close(lazy.field.table.planes, dense.field.table.planes, rtol=1e-3, atol=1e-5)
    killed = _killed_before_last_checkpoint(lazy_dir, tmp_path / "killed")
    resumed = MultiSceneTrainer(_small("triplanes-rgb-cpu", cars, tmp_path / "b", scene_optimizer="lazy-adam", resume=killed, **settings))
    resumed.train()
    torch.testing.assert_close(resumed.field.table.planes, lazy.field.table.planes)


def test_scene_learning_rate_far_too_high_is_a_collapse(cars, tmp_path):
    """--scene-lr.lr 1e6 used to finish with exit 0 at ~10 dB; it is called within a quarter of the run."""
    cfg = _small("triplanes-rgb-cpu", cars, tmp_path, rays_per_view=64)
    cfg.phases[0].epochs = 60.0
    cfg.scene_lr.lr = 1e6
    trainer = MultiSceneTrainer(cfg)
    with pytest.raises(TrainingCollapsedError, match=r"training collapsed: the model has been .*x worse than a constant colour"):
        trainer.train()
    assert trainer.step <= trainer.total_steps // 4 + 1


def test_decoded_phase_is_judged_on_the_decoded_views(cars, tmp_path):
    """Stage 2's decoded phase trains on decoded views only, so its latents drift from the encoder's: a 64-scene
    stage 2 was stopped as collapsed on that drift. The collapse guard now gets the decoded views' error and that
    of a constant colour per view (both in [-1, 1] units), the latent phase the latents'."""
    trainer = MultiSceneTrainer(_small("scale-stage2-cpu", cars, tmp_path, ae_preset="tiny", num_scenes=2))
    latent = trainer.train_step()
    assert latent["fit_mse"] == pytest.approx(latent["loss_e"], rel=1e-6)
    trainer.step = trainer.total_steps - 1  # in the decoded phase
    decoded = trainer.train_step()
    assert "loss_e" not in decoded and decoded["fit_mse"] == pytest.approx(decoded["loss_d"], rel=1e-6)
    spreads = []  # 4 x each training view's variance about its mean colour: a constant's error in [-1, 1] units
    for scene in trainer.rgb_set.scenes:
        train = scene.split("train")
        for v in range(len(train)):
            rgb = composite_on_background(train.rgba(v), trainer.rgb_background)
            spreads.append(4.0 * float(((rgb - rgb.mean(dim=(0, 1))) ** 2).mean()))
    assert min(spreads) * 0.999 <= decoded["baseline_mse"] <= max(spreads) * 1.001
    assert decoded["baseline_mse"] > 10 * latent["baseline_mse"]  # the latent baseline's units would have been wrong here


@pytest.mark.parametrize("scene_optimizer", ["adam", "row-adam", "lazy-adam"])
def test_optimisers_take_every_setting_of_their_group(cars, tmp_path, scene_optimizer):
    """--scene-lr.eps and the other OptimizerConfig fields reach the optimisers (they were dropped: only lr was used)."""
    cfg = _small("triplanes-rgb-cpu", cars, tmp_path, scene_optimizer=scene_optimizer)
    cfg.scene_lr.eps, cfg.scene_lr.betas = 1e-15, (0.8, 0.95)
    cfg.shared_lr.eps, cfg.shared_lr.weight_decay = 1e-12, 1e-4
    optimizers = MultiSceneTrainer(cfg).optimizers
    scenes, shared = optimizers["scenes"].param_groups[0], optimizers["shared"].param_groups[0]
    assert (scenes["eps"], tuple(scenes["betas"])) == (1e-15, (0.8, 0.95))
    assert isinstance(optimizers["shared"], torch.optim.AdamW) and (shared["eps"], shared["weight_decay"]) == (1e-12, 1e-4)
    if scene_optimizer != "adam":
        cfg.scene_lr.weight_decay = 1e-4
        with pytest.raises(ConfigError, match=rf"{scene_optimizer} has no weight decay: drop --scene-lr.weight-decay 0.0001"):
            MultiSceneTrainer(cfg)


def test_decoded_crop_renders_and_decodes_a_square_of_each_view(cars, tmp_path, monkeypatch):
    """--decoded-crop c: a decoded phase renders c x c latent pixels of each view and compares their decoding with
    the same square of the view's pixels (f c x f c); latent phases still render whole views."""
    trainer = MultiSceneTrainer(_small("scale-stage2-cpu", cars, tmp_path, ae_preset="tiny", num_scenes=2, decoded_crop=2))
    seen = {}
    render_views, decoded_loss = trainer.render_views, trainer.space.decoded_loss

    def spy_render(scene_ids, split, views, pixels=None):
        seen.update(scene_ids=scene_ids.tolist(), views=views, pixels=pixels)
        return render_views(scene_ids, split, views, pixels)

    def spy_decoded(values, rgb):
        seen.update(values=values, rgb=rgb)
        return decoded_loss(values, rgb)

    monkeypatch.setattr(trainer, "render_views", spy_render)
    monkeypatch.setattr(trainer.space, "decoded_loss", spy_decoded)
    trainer.train_step()  # the latent phase: whole views
    h, w = trainer.scenes[0].split("train").height, trainer.scenes[0].split("train").width
    assert seen["pixels"] is None and "values" not in seen
    trainer.step = trainer.total_steps - 1  # the decoded phase
    trainer.train_step()
    assert seen["values"].shape[1:3] == (2, 2)
    full = trainer.rgb_set.scenes[0].split("train").height
    f = full // h
    for b, ((px, py), sid, view) in enumerate(zip(seen["pixels"], seen["scene_ids"], seen["views"])):
        x0, y0 = int(px.min()), int(py.min())
        assert 0 <= x0 <= w - 2 and 0 <= y0 <= h - 2
        assert px.tolist() == [x0, x0 + 1, x0, x0 + 1] and py.tolist() == [y0, y0, y0 + 1, y0 + 1]  # row-major square
        image = composite_on_background(trainer.rgb_set.scenes[sid].split("train").rgba(view), trainer.rgb_background)
        assert torch.equal(seen["rgb"][b], image[y0 * f : (y0 + 2) * f, x0 * f : (x0 + 2) * f])


def test_rays_per_view_draws_latent_pixels_and_decoded_phases_render_whole_views(cars, tmp_path, monkeypatch):
    """--rays-per-view r in a latent-then-decoded schedule: the latent phase renders r drawn latent pixels of each
    view and fits the encoder's latents at exactly those pixels; the decoded phase still renders whole views."""
    trainer = MultiSceneTrainer(_small("scale-stage2-cpu", cars, tmp_path, ae_preset="tiny", num_scenes=2, decoded_crop=0, rays_per_view=3))
    seen = {}
    render_views, decoded_loss = trainer.render_views, trainer.space.decoded_loss

    def spy_render(scene_ids, split, views, pixels=None):
        out = render_views(scene_ids, split, views, pixels)
        seen.update(scene_ids=scene_ids.tolist(), views=views, pixels=pixels, render=out)
        return out

    monkeypatch.setattr(trainer, "render_views", spy_render)
    monkeypatch.setattr(trainer.space, "decoded_loss", lambda values, rgb: seen.update(values=values) or decoded_loss(values, rgb))
    scalars = trainer.train_step()  # the latent phase
    assert "values" not in seen and [len(px) for px, _ in seen["pixels"]] == [3, 3]
    targets = [trainer.scenes[s].split("train").rgba(v) for s, v in zip(seen["scene_ids"], seen["views"])]
    picked = torch.stack([composite_on_background(t, trainer.background_value.cpu())[py, px] for t, (px, py) in zip(targets, seen["pixels"])])
    assert seen["render"].shape == picked.shape == (2, 3, trainer.space.channels)
    assert scalars["fit_mse"] == pytest.approx(((seen["render"].detach() - picked) ** 2).mean().item(), rel=1e-5)
    h, w = trainer.scenes[0].split("train").height, trainer.scenes[0].split("train").width
    trainer.config.rays_per_view = h * w  # as many rays as the view has pixels: the whole view, in order
    trainer.train_step()
    assert seen["pixels"] is None and seen["render"].shape == (2, h * w, trainer.space.channels)
    trainer.step = trainer.total_steps - 1  # the decoded phase
    trainer.train_step()
    assert seen["pixels"] is None and seen["values"].shape[1:3] == (h, w)


def _decoded_step(cars, out, precision):
    """One decoded-phase step of a 2-scene stage 2: its scalars, the decoder's first conv gradient, the dtype that conv ran in."""
    trainer = MultiSceneTrainer(_small("scale-stage2-cpu", cars, out, ae_preset="tiny", num_scenes=2, decoder_precision=precision))
    trainer.step = trainer.total_steps - 1
    dtypes = []
    trainer.space.autoencoder.decoder.conv_in.register_forward_hook(lambda module, args, output: dtypes.append(output.dtype))
    torch.manual_seed(3)
    scalars = trainer.train_step()
    return scalars, trainer.space.autoencoder.decoder.conv_in.weight.grad.clone(), dtypes


@pytest.mark.parametrize("decoder_part", ["all", "head"])
def test_decoder_part_head_trains_only_the_head_and_still_trains_the_scenes(cars, tmp_path, decoder_part):
    """--decoder-part head: a decoded step moves the decoder's head, leaves its trunk (no gradient computed), and
    still moves the rendered scenes through the trunk; all moves both."""
    trainer = MultiSceneTrainer(_small("scale-stage2-cpu", cars, tmp_path, ae_preset="tiny", num_scenes=2, decoder_part=decoder_part))
    ae = trainer.space.autoencoder
    head = set(ae.decoder_head_parameters())
    before = {k: v.detach().clone() for k, v in ae.decoder_parameters().items()}
    planes = trainer.field.table.micro.detach().clone()
    trainer.step = trainer.total_steps - 1  # in the decoded phase
    trainer.train_step()
    after = ae.decoder_parameters()
    moved = {k for k, v in after.items() if not torch.equal(v.detach(), before[k])}
    trunk_grads = [after[k].grad for k in after if k not in head]
    assert head <= moved
    if decoder_part == "head":
        assert moved == head and all(g is None for g in trunk_grads)
    else:
        assert moved == set(after) and all(g is not None for g in trunk_grads)
    assert not torch.equal(trainer.field.table.micro.detach(), planes)


def test_decoder_part_head_needs_the_built_in_architecture(cars, tmp_path, monkeypatch):
    from latent_atlas.spaces.image_space import LatentSpace

    def no_head(self, part="all"):
        if part == "decoder-head":
            raise ValueError("only the built-in autoencoder architecture has a decoder head to train alone")
        return original(self, part)

    original = LatentSpace.parameters
    monkeypatch.setattr(LatentSpace, "parameters", no_head)
    with pytest.raises(ConfigError, match="--decoder-part head: only the built-in"):
        MultiSceneTrainer(_small("scale-stage2-cpu", cars, tmp_path, ae_preset="tiny", num_scenes=2, decoder_part="head"))


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no bf16 units (AVX512-BF16 or AMX)")
def test_bf16_decoder_runs_in_bf16_and_agrees_with_fp32(cars, tmp_path):
    """--decoder-precision bf16: the decoder's convolutions run in bf16, the decoded loss and its gradients stay
    within about 1% of fp32's on the same batch."""
    reference, reference_grad, reference_dtypes = _decoded_step(cars, tmp_path / "fp32", "fp32")
    fast, fast_grad, fast_dtypes = _decoded_step(cars, tmp_path / "bf16", "bf16")
    assert set(reference_dtypes) == {torch.float32} and set(fast_dtypes) == {torch.bfloat16}
    assert fast["loss_d"] == pytest.approx(reference["loss_d"], rel=2e-2)
    assert fast["loss_d"] != reference["loss_d"]  # it did run in another precision
    cosine = torch.nn.functional.cosine_similarity(fast_grad.flatten(), reference_grad.flatten(), dim=0)
    assert cosine > 0.99


def test_bf16_decoder_is_refused_on_a_cpu_without_bf16_units(cars, tmp_path, monkeypatch):
    monkeypatch.setattr("latent_atlas.engine.precision.cpu_has_bf16", lambda: False)
    with pytest.raises(ConfigError, match=r"--decoder-precision bf16: this CPU has no bf16 units \(AVX512-BF16 or AMX\); use fp32 or auto"):
        MultiSceneTrainer(_small("scale-stage2-cpu", cars, tmp_path, ae_preset="tiny", num_scenes=2, decoder_precision="bf16"))


@pytest.mark.parametrize("has_bf16", [False, True])
def test_stage2_preset_decodes_in_bf16_where_the_cpu_has_bf16_units(cars, tmp_path, monkeypatch, has_bf16):
    """scale-stage2-cpu picks --decoder-precision auto: bf16 on a CPU with bf16 units, fp32 elsewhere."""
    assert scaled_preset("scale-stage2-cpu").decoder_precision == "auto"
    monkeypatch.setattr("latent_atlas.engine.precision.cpu_has_bf16", lambda: has_bf16)
    trainer = MultiSceneTrainer(_small("scale-stage2-cpu", cars, tmp_path, ae_preset="tiny", num_scenes=2))
    assert trainer.decoder_dtype == (torch.bfloat16 if has_bf16 else None)


def test_decoder_channel_weights_scale_loss_e(cars, tmp_path, monkeypatch):
    """--channel-weights decoder: loss_e weighs channel c by the decoder's sensitivity to it (measured on one view of
    each scene at the start, floored, mean 1): the logged loss_e is that weighted mean square of render - target."""
    trainer = MultiSceneTrainer(_small("scale-stage2-cpu", cars, tmp_path, ae_preset="tiny", num_scenes=2, rays_per_view=0, channel_weights="decoder"))
    values = torch.cat([s.split("train").rgba(slice(0, 1))[..., :4] for s in trainer.scenes])
    sensitivity = trainer.space.channel_sensitivity(values, generator=torch.Generator().manual_seed(trainer.config.seed))
    torch.testing.assert_close(trainer.channel_scale**2, channel_weights(sensitivity, trainer.config.channel_weight_floor))
    trainer.channel_scale = torch.tensor([0.0, 2.0, 0.0, 0.0])  # only channel 1 counts, weighted 4
    seen = {}
    render_views = trainer.render_views

    def spy_render(scene_ids, split, views, pixels=None):
        seen.update(scene_ids=scene_ids.tolist(), views=views, render=render_views(scene_ids, split, views, pixels))
        return seen["render"]

    monkeypatch.setattr(trainer, "render_views", spy_render)
    scalars = trainer.train_step()  # the latent phase, whole views
    targets = torch.stack([trainer.scenes[s].split("train").rgba(v)[..., :4] for s, v in zip(seen["scene_ids"], seen["views"])])
    error = seen["render"].detach()[..., 1] - targets.flatten(1, 2)[..., 1]  # [B, h * w]
    assert scalars["loss_e"] == pytest.approx(float(torch.mean((2.0 * error) ** 2)) / 4, rel=1e-4)  # 4 channels in the mean
    assert MultiSceneTrainer(_small("scale-stage2-cpu", cars, tmp_path / "uniform", ae_preset="tiny", num_scenes=2)).channel_scale is None


@pytest.mark.parametrize("preset", ["scale-stage2-cpu", "triplanes-rgb-cpu"])
def test_views_on_disk_train_exactly_as_views_in_memory(cars, tmp_path, monkeypatch, preset):
    """--views disk: every split's views (RGB and latents) leave memory for an unlinked file, and the run reads them
    back bit for bit: the same losses, planes and scores as with the views in memory; and compact scene records
    (cameras in one tensor, paths in one string) train as the records as loaded."""
    from latent_atlas.cameras import Cameras, PackedCameras
    from latent_atlas.data.scene import PathList
    from latent_atlas.data.view_file import ViewsOnDisk

    monkeypatch.setenv("LATLAS_CACHE_DIR", str(tmp_path / "cache"))
    runs = {}
    for views in ("memory", "disk"):
        trainer = MultiSceneTrainer(_small(preset, cars, tmp_path / views, ae_preset="tiny", num_scenes=3, decoded_crop=2, views=views))
        held = [split.images for scene in trainer.scenes + trainer.rgb_set.scenes for split in scene.splits.values()]
        assert all(isinstance(images, ViewsOnDisk) == (views == "disk") for images in held)
        splits = [split for scene in trainer.scenes + trainer.rgb_set.scenes for split in scene.splits.values()]
        assert all(isinstance(split.cameras, PackedCameras) and isinstance(split.image_paths, PathList) for split in splits)  # compact records
        summary = json.loads((trainer.train() / "summary.json").read_text())
        runs[views] = (summary["steps"], trainer.field.table.scene_parameters()[0].detach().clone(), summary["eval"])
    assert runs["disk"][0] == runs["memory"][0] > 2  # both phases ran
    assert torch.equal(runs["disk"][1], runs["memory"][1])
    assert runs["disk"][2] == runs["memory"][2]
    monkeypatch.setattr("latent_atlas.tasks.multi_scene.compact_records", lambda scene: None)  # records as loaded
    trainer = MultiSceneTrainer(_small(preset, cars, tmp_path / "loose", ae_preset="tiny", num_scenes=3, decoded_crop=2))
    assert type(trainer.scenes[0].split("train").cameras) is Cameras
    summary = json.loads((trainer.train() / "summary.json").read_text())
    assert torch.equal(trainer.field.table.scene_parameters()[0].detach(), runs["memory"][1]) and summary["eval"] == runs["memory"][2]
    assert list((tmp_path / "disk").glob(".latlas-views-*")) == []
