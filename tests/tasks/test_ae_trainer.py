"""`latlas ae train`: learns to reconstruct, checkpoints, resumes, and its run folder is an --ae."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from latent_atlas.cli.main import main
from latent_atlas.errors import ConfigError, DataError
from latent_atlas.spaces.ae_loading import load_autoencoder
from latent_atlas.tasks.autoencoder import AETrainConfig, AETrainer, random_crops, training_backgrounds


def test_ae_train_learns_and_resumes(tiny_scene, tmp_path, capsys):
    args = [
        "ae",
        "train",
        "--data",
        str(tiny_scene),
        "--preset",
        "tiny",
        "--max-steps",
        "60",
        "--batch-size",
        "8",
        "--output-dir",
        str(tmp_path),
        "--checkpoint-every",
        "30",
        "--no-progress",
    ]
    assert main(args) == 0
    run_dir = tmp_path / "autoencoders" / "ae-tiny"
    run_dir = next(run_dir.iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 60
    # a random tiny AE reconstructs at ~6-8 dB; 60 steps must already do much better
    assert summary["val_psnr"] > 14.0, summary
    model = load_autoencoder(run_dir)
    assert model.latent_channels == 4
    # resume: continue to 80 steps from the step-60 checkpoint
    assert main(["ae", "train", "--resume", str(run_dir), "--max-steps", "80", "--no-progress"]) == 0
    assert json.loads((run_dir / "summary.json").read_text())["steps"] == 80
    # one --resume path for every run: `latlas train --resume` continues an autoencoder run too
    assert main(["train", "--resume", str(run_dir), "--max-steps", "90"]) == 0
    assert json.loads((run_dir / "summary.json").read_text())["steps"] == 90
    assert json.loads((run_dir / "config.json").read_text())["task"] == "autoencoder"


def test_resume_continues_exactly(tiny_scene, tmp_path):
    """Killed after the step-3 checkpoint (the later one deleted), a resumed run ends where an unbroken one does."""
    base = AETrainConfig(data=(tiny_scene,), max_steps=6, batch_size=4, output_dir=tmp_path, progress=False, checkpoint_every=3)
    straight = AETrainer(base)
    run_dir = straight.train()
    killed = tmp_path / "killed"
    shutil.copytree(run_dir, killed)
    for path in (killed / "checkpoints").glob("step-0000006.*"):
        path.unlink()
    resumed = AETrainer(AETrainConfig(**{**base.__dict__, "resume": killed}))
    assert resumed.step == 3
    resumed.train()
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, msg=k)


def test_random_crops_and_varied_backgrounds():
    g = torch.Generator().manual_seed(0)
    images = torch.arange(2 * 16 * 16 * 4, dtype=torch.float).reshape(2, 16, 16, 4)
    crops = random_crops(images, 8, g)
    assert crops.shape == (2, 8, 8, 4)
    for image, crop in zip(images, crops):  # each crop is a contiguous window of its own image
        top, left = int(crop[0, 0, 0] - image[0, 0, 0]) // (16 * 4), int(crop[0, 0, 0] - image[0, 0, 0]) % (16 * 4) // 4
        torch.testing.assert_close(crop, image[top : top + 8, left : left + 8])
    assert random_crops(images, 0, g) is images
    colours = training_backgrounds("varied", 4000, g)
    white = (colours == 1).all(dim=1).float().mean().item()
    assert 0.45 < white < 0.55 and colours.min() >= 0 and colours.max() <= 1


def test_crop_must_fit_the_images_and_the_factor(tiny_scene, tmp_path):
    for crop, message in ((12, "multiple of the autoencoder's factor 8"), (64, "larger than the 32x32")):
        with pytest.raises(ConfigError, match=message):
            AETrainer(AETrainConfig(data=(tiny_scene,), crop=crop, output_dir=tmp_path, progress=False))


def test_equivariance_needs_a_crop_with_room_to_move(tiny_scene, tmp_path):
    for crop, message in ((0, "needs --crop larger"), (32, r"\+ 8 pixels of shift exceed the 32x32")):
        with pytest.raises(ConfigError, match=message):
            AETrainer(AETrainConfig(data=(tiny_scene,), crop=crop, equivariance_encoder=0.1, output_dir=tmp_path, progress=False))


def test_equivariance_training_lowers_the_encoder_error(tiny_scene, tmp_path):
    """Trained with a large encoder weight, a tiny autoencoder's latents of moved crops approach resampled latents."""
    from latent_atlas.spaces.equivariance import shift_equivariance

    def encoder_error(model) -> float:
        g = torch.Generator().manual_seed(5)
        wide = trainer._batch(trainer.train_images[(32, 32)], 16, g, 24)
        with torch.no_grad():
            return sum(shift_equivariance(model, wide, 16, s, s).encoder.item() for s in (2, 4, 6)) / 3

    config = AETrainConfig(data=(tiny_scene,), preset="tiny", crop=16, batch_size=8, max_steps=80, equivariance_encoder=1.0, equivariance_decoder=1.0)
    trainer = AETrainer(AETrainConfig(**{**config.__dict__, "output_dir": tmp_path, "progress": False}))
    before = encoder_error(trainer.model)
    trainer.train()
    after = encoder_error(trainer.model)
    assert after < 0.5 * before, (before, after)


def test_decoder_only_training_keeps_the_encoder(tiny_scene, tmp_path):
    """--train-parts decoder: the encoder (and so the latent space) is bit-identical to --init, the decoder learns."""
    first = AETrainer(AETrainConfig(data=(tiny_scene,), max_steps=4, batch_size=4, output_dir=tmp_path / "a", progress=False, latent_std=0.0)).train()
    start = load_autoencoder(first / "autoencoder")
    config = AETrainConfig(data=(tiny_scene,), init=str(first / "autoencoder"), train_parts="decoder", max_steps=4, batch_size=4, latent_std=0.0)
    trainer = AETrainer(AETrainConfig(**{**config.__dict__, "output_dir": tmp_path / "b", "progress": False}))
    trainer.train()
    for name, value in start.encoder_parameters().items():
        assert torch.equal(value, trainer.model.encoder_parameters()[name]), name
    moved = [name for name, value in start.decoder_parameters().items() if not torch.equal(value, trainer.model.decoder_parameters()[name])]
    assert len(moved) == len(start.decoder_parameters())
    with pytest.raises(ConfigError, match="needs --init"):
        AETrainer(AETrainConfig(data=(tiny_scene,), train_parts="decoder", output_dir=tmp_path / "c", progress=False))


def test_matching_init_gives_a_new_decoder_to_a_kept_encoder(small_views, tmp_path):
    """--init-parts matching: the slim preset takes the shipped f4 autoencoder's encoder bit for bit (so it encodes
    alike) and its same-shaped decoder tensors, starts the rest fresh, and with --train-parts decoder learns only
    the decoder; an --init whose encoder does not fit the preset is refused."""
    shipped = load_autoencoder("latlas-f4c16-pooled-igae")
    config = AETrainConfig(
        data=(small_views,),
        preset="latlas-f4c16-slim",
        init="latlas-f4c16-pooled-igae",
        init_parts="matching",
        train_parts="decoder",
        crop=32,
        batch_size=2,
        max_steps=3,
        latent_std=0.0,
        output_dir=tmp_path / "a",
        progress=False,
    )
    trainer = AETrainer(config)
    start = {name: value.clone() for name, value in trainer.model.decoder_parameters().items()}
    assert torch.equal(start["decoder.patch_skip.weight"], shipped.decoder_parameters()["decoder.patch_skip.weight"])
    assert start["decoder.conv_in.weight"].shape[0] == 64 != shipped.decoder_parameters()["decoder.conv_in.weight"].shape[0]
    trainer.train()
    for name, value in shipped.encoder_parameters().items():
        assert torch.equal(value, trainer.model.encoder_parameters()[name]), name
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(shipped.encode(x)[0], trainer.model.encode(x)[0])
    assert not torch.equal(start["decoder.conv_out.weight"], trainer.model.decoder_parameters()["decoder.conv_out.weight"])
    with pytest.raises(ConfigError, match="its encoder does not fit"):
        AETrainer(AETrainConfig(**{**config.__dict__, "preset": "latlas-f8c16-pooled", "output_dir": tmp_path / "b"}))


@pytest.fixture(scope="module")
def small_views(tmp_path_factory):
    """A 64x64 'objects' scene of 8 train views (16x16 latents at f4: room for surface points two views share)."""
    from latent_atlas.data.synth.writer import SynthConfig, synthesize

    cfg = SynthConfig(output=tmp_path_factory.mktemp("views"), resolution=64, num_train=8, num_val=1, num_test=1, seed=4, supersample=1)
    return synthesize(cfg)[0]


def test_view_consistency_training_lowers_the_view_error(small_views, micro_scene, tmp_path):
    """With --consistency-weight, an f4 autoencoder's latents of neighbouring views agree more at shared surface
    points; without --consistency-data, or with views too small to share a surface point, it is refused."""
    from latent_atlas.data.scene import composite_on_background
    from latent_atlas.spaces.equivariance import view_consistency

    def view_error(trainer) -> float:
        pairs = trainer.view_pairs
        x = (composite_on_background(pairs.images.float() / 255.0, torch.ones(3)) * 2 - 1).permute(0, 3, 1, 2)
        with torch.no_grad():
            z = trainer.model.encode(x)[0]
        return view_consistency(z[pairs.target], z[pairs.source], pairs.grid, pairs.mask).item()

    config = AETrainConfig(
        data=(small_views,),
        preset="latlas-f4c16-pooled",
        crop=32,
        batch_size=2,
        max_steps=15,
        consistency_data=(small_views,),
        consistency_weight=10.0,
        consistency_pairs=8,
    )
    trainer = AETrainer(AETrainConfig(**{**config.__dict__, "output_dir": tmp_path, "progress": False}))
    before = view_error(trainer)
    trainer.train()
    after = view_error(trainer)
    assert after < 0.5 * before, (before, after)
    with pytest.raises(ConfigError, match="needs --consistency-data"):
        AETrainer(AETrainConfig(data=(small_views,), consistency_weight=1.0, output_dir=tmp_path / "b", progress=False))
    with pytest.raises(ConfigError, match="cannot go with --train-parts decoder"):
        AETrainer(
            AETrainConfig(
                data=(small_views,), init="x", train_parts="decoder", consistency_data=(small_views,), consistency_weight=1.0, output_dir=tmp_path / "d"
            )
        )
    with pytest.raises(DataError, match="no surface point is seen by two neighbouring views"):
        AETrainer(
            AETrainConfig(
                data=(small_views,),
                preset="latlas-f4c16-pooled",
                consistency_data=(micro_scene,),
                consistency_weight=1.0,
                output_dir=tmp_path / "c",
                progress=False,
            )
        )
