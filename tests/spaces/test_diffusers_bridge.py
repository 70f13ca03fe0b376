"""diffusers autoencoders behind our interface: Tiny (TAESD) and DC through the bridge, KL on request; their
latents equal the library's own, they round-trip through folders, and a latent space trains with them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from latent_atlas.errors import ConfigError, DataError
from latent_atlas.spaces.ae_loading import fingerprint, load_autoencoder, save_pretrained
from latent_atlas.spaces.autoencoder_kl import AutoencoderKL
from latent_atlas.spaces.diffusers_bridge import DiffusersAutoencoder, downscale_of

diffusers = pytest.importorskip("diffusers", reason="diffusers is not installed (pip install 'latent-atlas[diffusers]')")


def _tiny() -> torch.nn.Module:
    torch.manual_seed(0)
    return diffusers.AutoencoderTiny(
        encoder_block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        num_encoder_blocks=(1, 1, 1, 1),
        num_decoder_blocks=(1, 1, 1, 1),
        latent_channels=4,
    ).eval()


def _dc() -> torch.nn.Module:
    torch.manual_seed(0)
    return diffusers.AutoencoderDC(
        latent_channels=8,
        attention_head_dim=8,
        encoder_block_types="ResBlock",
        decoder_block_types="ResBlock",
        encoder_block_out_channels=(8, 16, 16),
        decoder_block_out_channels=(8, 16, 16),
        encoder_layers_per_block=(1, 1, 1),
        decoder_layers_per_block=(1, 1, 1),
        encoder_qkv_multiscales=((), (), ()),
        decoder_qkv_multiscales=((), (), ()),
        decoder_norm_types="rms_norm",
        decoder_act_fns="silu",
    ).eval()


def _kl() -> torch.nn.Module:
    torch.manual_seed(0)
    return diffusers.AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        block_out_channels=(8, 16),
        latent_channels=4,
        norm_num_groups=4,
        shift_factor=0.1,
        scaling_factor=0.5,
    ).eval()


IMAGES = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1


@pytest.mark.parametrize(("make", "factor", "channels"), [(_tiny, 8, 4), (_dc, 4, 8)], ids=["tiny", "dc"])
def test_tiny_and_dc_folders_load_through_the_bridge_with_the_librarys_latents(tmp_path, make, factor, channels):
    backend = make()
    backend.save_pretrained(str(tmp_path / "ae"))
    model = load_autoencoder(tmp_path / "ae")
    assert isinstance(model, DiffusersAutoencoder)
    assert (model.downscale_factor, model.latent_channels) == (factor, channels)
    with torch.no_grad():
        mean, logvar = model.encode(IMAGES)
        out = backend.encode(IMAGES)
        expected = out.latents if hasattr(out, "latents") else out.latent
        torch.testing.assert_close(mean, expected)
        assert mean.shape == (2, channels, 32 // factor, 32 // factor) and torch.all(logvar == -30.0)
        torch.testing.assert_close(model.decode(mean), backend.decode(expected).sample)
    # the interface the latent space needs: encoder and decoder parameters split, names as diffusers writes them
    enc, dec = model.encoder_parameters(), model.decoder_parameters()
    assert enc and dec and not set(enc) & set(dec)
    assert set(enc) | set(dec) == {k for k, _ in backend.named_parameters()}


def test_bridge_round_trips_through_save_and_changes_the_fingerprint_with_the_weights(tmp_path):
    model = DiffusersAutoencoder(_tiny())
    folder = save_pretrained(model, tmp_path / "export")
    assert json.loads((folder / "config.json").read_text())["_class_name"] == "AutoencoderTiny"
    again = load_autoencoder(folder)
    assert fingerprint(again) == fingerprint(model) and fingerprint(again, "encoder") == fingerprint(model, "encoder")
    with torch.no_grad():
        next(iter(again.decoder_parameters().values())).add_(1.0)
    assert fingerprint(again, "encoder") == fingerprint(model, "encoder") and fingerprint(again) != fingerprint(model)


def test_kl_folders_stay_on_our_implementation_unless_diffusers_is_asked_for(tmp_path):
    backend = _kl()
    backend.save_pretrained(str(tmp_path / "kl"))
    ours = load_autoencoder(tmp_path / "kl")
    bridged = load_autoencoder(f"diffusers:{tmp_path / 'kl'}")
    assert isinstance(ours, AutoencoderKL) and isinstance(bridged, DiffusersAutoencoder)
    assert bridged.downscale_factor == 2 and bridged.config.values["shift_factor"] == 0.1
    with torch.no_grad():
        torch.testing.assert_close(bridged.encode(IMAGES)[0], ours.encode(IMAGES)[0], atol=1e-5, rtol=1e-5)
        z = ours.encode(IMAGES)[0]
        torch.testing.assert_close(bridged.decode(z), ours.decode(z), atol=1e-5, rtol=1e-5)


def test_bad_diffusers_folders_name_the_file(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"_class_name": "VQModel"}))
    with pytest.raises(DataError, match="^[^(]*config.json: _class_name VQModel is not a supported autoencoder"):
        load_autoencoder(folder)
    (folder / "config.json").write_text(json.dumps({"_class_name": "AutoencoderTiny", "latent_channels": 4}))
    with pytest.raises(DataError, match="diffusers could not load this AutoencoderTiny"):
        load_autoencoder(folder)
    with pytest.raises(DataError, match="no diffusers autoencoder folder"):
        load_autoencoder(f"diffusers:{tmp_path / 'missing'}")


def test_downscale_factors_of_the_published_configs():
    """TAESD and DC-AE f32c32 (their published config.json values) and a KL f8."""
    assert downscale_of("AutoencoderTiny", {"encoder_block_out_channels": [64, 64, 64, 64], "upsampling_scaling_factor": 2}) == 8
    assert downscale_of("AutoencoderDC", {"encoder_block_out_channels": [128, 256, 512, 512, 1024, 1024]}) == 32
    assert downscale_of("AutoencoderKL", {"block_out_channels": [128, 256, 512, 512]}) == 8


def test_a_latent_scene_trains_and_evaluates_in_a_tiny_autoencoders_space(tmp_path, tiny_scene, capsys):
    """Latent triplane steps with a diffusers AutoencoderTiny, its decoder fine-tuned in the decoded phase, then
    `latlas eval`: every latent metric group, and metrics_ae equal to the library's own reconstruction."""
    from latent_atlas.cli.main import main

    _tiny().save_pretrained(str(tmp_path / "taesd"))
    args = ["train", "triplane", "--data", str(tiny_scene), "--space", "latent", "--ae", str(tmp_path / "taesd"), "--max-steps", "4"]
    args += ["--rays-per-batch", "32", "--latent.decoder-start", "0.5", "--output-dir", str(tmp_path / "runs"), "--no-progress", "--eval-every", "1000"]
    assert main(args) == 0
    run_dir = capsys.readouterr().out.strip().splitlines()[-1].split("run folder: ")[1]
    assert main(["eval", "--run", run_dir, "--max-images", "1"]) == 0
    results = json.loads((Path(run_dir) / "eval" / "metrics.json").read_text())["results"]
    assert {"metrics_e", "metrics_d", "metrics_ae", "metrics_d_ae"} <= set(results)
    assert 0.0 < results["metrics_ae"]["psnr"] < 60.0 and 0.0 < results["metrics_d"]["psnr"] < 60.0


def test_a_diffusers_decoder_has_no_head_to_train_alone(tmp_path, tiny_scene, capsys):
    """--latent.decoder-part head names the built-in architecture: a one-line error, exit 2, with a diffusers one."""
    from latent_atlas.cli.main import main

    _tiny().save_pretrained(str(tmp_path / "taesd"))
    args = ["train", "triplane", "--data", str(tiny_scene), "--space", "latent", "--ae", str(tmp_path / "taesd"), "--max-steps", "2"]
    assert main([*args, "--latent.decoder-part", "head", "--output-dir", str(tmp_path / "runs"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == "latlas: error: --latent.decoder-part head: only the built-in autoencoder architecture has a decoder head to train alone"


def test_missing_diffusers_is_a_config_error(monkeypatch, tmp_path):
    import sys

    from latent_atlas.spaces.diffusers_bridge import load_with_diffusers

    _tiny().save_pretrained(str(tmp_path / "taesd"))
    monkeypatch.setitem(sys.modules, "diffusers", None)  # import diffusers now raises ImportError
    with pytest.raises(ConfigError, match="needs the diffusers library"):
        load_with_diffusers(tmp_path / "taesd")
