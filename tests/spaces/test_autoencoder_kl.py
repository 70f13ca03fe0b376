"""AutoencoderKL: presets round-trip, loading from folders and single files, layouts and errors."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from safetensors.torch import save_file

from latent_atlas.errors import ConfigError, DataError
from latent_atlas.spaces.ae_loading import convert_ldm_keys, fingerprint, load_autoencoder, save_pretrained
from latent_atlas.spaces.autoencoder_kl import AutoencoderKL, AutoencoderKLConfig, pooling_windows
from latent_atlas.spaces.presets import AE_PRESETS, preset_config

TINY = AutoencoderKLConfig(block_out_channels=(8, 16), layers_per_block=1, latent_channels=4, norm_num_groups=4)


def _model(cfg: AutoencoderKLConfig = TINY, seed: int = 0) -> AutoencoderKL:
    torch.manual_seed(seed)
    model = AutoencoderKL(cfg).eval()
    with torch.no_grad():  # random biases too, so that a wrong mapping cannot hide behind zeros
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def _same_outputs(a: AutoencoderKL, b: AutoencoderKL, size: int = 16) -> None:
    x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        mean_a, logvar_a = a.encode(x)
        mean_b, logvar_b = b.encode(x)
        torch.testing.assert_close(mean_a, mean_b)
        torch.testing.assert_close(logvar_a, logvar_b)
        torch.testing.assert_close(a.decode(mean_a), b.decode(mean_a))


@pytest.mark.parametrize("name", sorted(AE_PRESETS))
def test_every_preset_round_trips_shapes(name):
    cfg = preset_config(name)
    model = AutoencoderKL(cfg).eval()
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        mean, logvar = model.encode(x)
        out = model.decode(mean)
    f = cfg.downscale_factor
    assert f == (4 if name.startswith("latlas-f4c16") else 8)
    assert mean.shape == (1, cfg.latent_channels, 16 // f, 16 // f) and logvar.shape == mean.shape
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert {"stable-diffusion": 4, "ostris": 16}.get(name, cfg.latent_channels) == cfg.latent_channels


def test_published_preset_sizes():
    """The SD KL-f8 architecture has about 83.7M parameters (34.2M encoder, 49.5M decoder)."""
    n = sum(p.numel() for p in AutoencoderKL(preset_config("stable-diffusion")).parameters())
    assert 83_000_000 < n < 84_000_000


def test_save_pretrained_folder_loads_identically(tmp_path):
    model = _model()
    folder = save_pretrained(model, tmp_path / "ae")
    assert json.loads((folder / "config.json").read_text())["_class_name"] == "AutoencoderKL"
    _same_outputs(model, load_autoencoder(folder))
    (tmp_path / "pipe").mkdir()
    save_pretrained(model, tmp_path / "pipe" / "vae")
    _same_outputs(model, load_autoencoder(tmp_path / "pipe"))


def test_single_safetensors_and_ckpt_files(tmp_path):
    model = _model()
    path = tmp_path / "vae.safetensors"
    save_file(model.state_dict(), str(path))
    loaded = load_autoencoder(path, "tiny")  # preset only supplies the GroupNorm groups (tiny: 8)
    assert loaded.config.block_out_channels == (8, 16) and loaded.config.norm_num_groups == 8
    # norm groups cannot be read from weights: with the right preset groups outputs match exactly
    tiny4 = AutoencoderKLConfig(block_out_channels=(8, 16), layers_per_block=1, latent_channels=4, norm_num_groups=4)
    AE_PRESETS["_test4"] = tiny4
    try:
        _same_outputs(model, load_autoencoder(path, "_test4"))
        ckpt = tmp_path / "full.ckpt"
        torch.save({"state_dict": {f"first_stage_model.{k}": v for k, v in model.state_dict().items()}}, ckpt)
        _same_outputs(model, load_autoencoder(ckpt, "_test4"))
    finally:
        del AE_PRESETS["_test4"]


def _to_ldm(state: dict[str, torch.Tensor], levels: int) -> dict[str, torch.Tensor]:
    """diffusers -> original Stable Diffusion key names, written independently of the loader."""
    out = {}
    for k, v in state.items():
        n = k.replace("down_blocks.", "down.").replace("up_blocks.", "up.").replace("resnets.", "block.")
        n = n.replace("downsamplers.0.", "downsample.").replace("upsamplers.0.", "upsample.")
        n = n.replace("conv_shortcut", "nin_shortcut").replace("conv_norm_out", "norm_out")
        n = n.replace("mid_block.block.0.", "mid.block_1.").replace("mid_block.block.1.", "mid.block_2.")
        if n.startswith("decoder.up."):
            i = int(n.split(".")[2])
            n = n.replace(f"decoder.up.{i}.", f"decoder.up.{levels - 1 - i}.", 1)
        if ".attentions.0." in n:
            n = n.replace("mid_block.attentions.0.", "mid.attn_1.").replace("group_norm", "norm")
            n = n.replace("to_q", "q").replace("to_k", "k").replace("to_v", "v").replace("to_out.0", "proj_out")
            if v.ndim == 2:
                v = v[:, :, None, None]
        out[n] = v
    return out


def test_ldm_layout_converts_to_the_same_model(tmp_path):
    cfg = AutoencoderKLConfig(block_out_channels=(8, 16, 16), layers_per_block=1, latent_channels=4, norm_num_groups=4)
    model = _model(cfg)
    ldm = _to_ldm(model.state_dict(), 3)
    assert "decoder.up.2.block.0.conv1.weight" in ldm and "encoder.mid.attn_1.q.weight" in ldm
    converted = convert_ldm_keys(ldm)
    assert set(converted) == set(model.state_dict())
    for k, v in model.state_dict().items():
        torch.testing.assert_close(converted[k], v)


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_autoencoder(tmp_path / "missing_folder")
    with pytest.raises(ConfigError, match="no published weights"):
        load_autoencoder("tiny")
    bad = tmp_path / "wrong.safetensors"
    state = _model().state_dict()
    state["decoder.conv_out.weight"] = torch.zeros(3, 7, 3, 3)
    save_file(state, str(bad))
    with pytest.raises(DataError, match="wrong.safetensors.*decoder.conv_out.weight"):
        load_autoencoder(bad, "tiny")
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="junk.ckpt: cannot read weights"):
        load_autoencoder(junk)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no autoencoder here"):
        load_autoencoder(tmp_path / "empty")


def test_weights_file_finds_its_preset_or_says_it_cannot(tmp_path):
    """A bare weights file of a preset's shapes loads with that preset's norm groups; other shapes get a DataError."""
    tiny = _model(preset_config("tiny"))
    path = tmp_path / "tiny.safetensors"
    save_file(tiny.state_dict(), str(path))
    loaded = load_autoencoder(path)  # no preset named: tiny's shapes, so tiny's 8 groups
    assert loaded.config.norm_num_groups == 8
    _same_outputs(tiny, loaded)
    odd = tmp_path / "odd.safetensors"
    save_file(_model(AutoencoderKLConfig(block_out_channels=(12, 24), layers_per_block=1, norm_num_groups=4)).state_dict(), str(odd))
    with pytest.raises(DataError, match=r"odd.safetensors.*\(12, 24\).*fit no preset"):
        load_autoencoder(odd)


def test_fingerprint_follows_the_weights():
    a, b = _model(seed=0), _model(seed=0)
    assert fingerprint(a) == fingerprint(b)
    with torch.no_grad():
        b.decoder.conv_out.bias.add_(1e-3)
    assert fingerprint(a) != fingerprint(b)
    assert fingerprint(a, part="encoder") == fingerprint(b, part="encoder")


def test_matches_diffusers_when_installed(tmp_path):
    """Same outputs as diffusers' own AutoencoderKL from a folder it wrote with save_pretrained."""
    diffusers = pytest.importorskip("diffusers")
    cfg = AutoencoderKLConfig(block_out_channels=(8, 16), layers_per_block=1, latent_channels=4, norm_num_groups=4)
    torch.manual_seed(0)
    theirs = diffusers.AutoencoderKL(**{k: v for k, v in cfg.to_diffusers_config().items() if not k.startswith("_")}).eval()
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    theirs.save_pretrained(tmp_path / "diffusers_vae")
    ours = load_autoencoder(tmp_path / "diffusers_vae")
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        dist = theirs.encode(x).latent_dist
        mean, logvar = ours.encode(x)
        torch.testing.assert_close(mean, dist.mean, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(ours.decode(mean), theirs.decode(dist.mean).sample, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("patch_skip", [False, True])
def test_standardising_latents_keeps_decoding(patch_skip):

    from latent_atlas.spaces.autoencoder_kl import latent_statistics, standardize_latents

    model = _model(replace(TINY, patch_skip=patch_skip))
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.no_grad():
        mean, logvar = model.encode(x)
        out = model.decode(mean)
        shift, std = latent_statistics(model, x)
        scale = 5.5 / std
        standardize_latents(model, shift, scale)
        mean2, logvar2 = model.encode(x)
        torch.testing.assert_close(mean2, (mean - shift[:, None, None]) * scale[:, None, None], rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(logvar2, logvar + 2 * torch.log(scale)[:, None, None], rtol=1e-5, atol=1e-4)
        torch.testing.assert_close(model.decode(mean2), out, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(mean2.mean(dim=(0, 2, 3)), torch.zeros(4), atol=1e-4, rtol=0)
        torch.testing.assert_close(mean2.std(dim=(0, 2, 3)), torch.full((4,), 5.5), atol=1e-3, rtol=1e-4)


PATCHY = AutoencoderKLConfig(block_out_channels=(8, 16), layers_per_block=1, latent_channels=3, norm_num_groups=4, patch_skip=True)


LAPPED = replace(PATCHY, patch_kernel=4)


@pytest.mark.parametrize("cfg", [PATCHY, LAPPED], ids=["blocks", "lapped"])
def test_patch_skip_round_trips_through_folders_and_files(tmp_path, cfg):
    model = _model(cfg)
    if cfg.lapped:
        assert model.encoder.patch_skip.weight.shape == (6, 3, 4, 4) and model.decoder.patch_skip.weight.shape == (3, 3, 4, 4)
    else:
        assert model.encoder.patch_skip.weight.shape == (6, 12, 1, 1) and model.decoder.patch_skip.weight.shape == (12, 3, 1, 1)
    folder = save_pretrained(model, tmp_path / "ae")
    assert json.loads((folder / "config.json").read_text())["patch_skip"] is True
    assert json.loads((folder / "config.json").read_text()).get("patch_kernel", 0) == cfg.patch_kernel
    assert "patch_skip" not in AutoencoderKLConfig().to_diffusers_config()  # standard configs stay diffusers' own
    _same_outputs(model, load_autoencoder(folder))
    path = tmp_path / "patchy.safetensors"
    save_file(model.state_dict(), str(path))
    AE_PRESETS["_patchy"] = cfg
    try:  # a bare file: patch_skip and its window read from its keys, the groups from the preset of the same shapes
        loaded = load_autoencoder(path)
    finally:
        del AE_PRESETS["_patchy"]
    assert loaded.config.patch_skip and loaded.config.norm_num_groups == 4 and loaded.config.patch_kernel == cfg.patch_kernel
    _same_outputs(model, loaded)


def test_pca_initialisation_is_the_best_linear_codec():
    """Right after init_patch_paths_with_pca the autoencoder reconstructs exactly as a rank-C PCA of 2x2 patches."""
    from latent_atlas.spaces.autoencoder_kl import init_patch_paths_with_pca

    model = _model(PATCHY)
    g = torch.Generator().manual_seed(0)
    smooth = torch.nn.functional.interpolate(torch.rand(6, 3, 4, 4, generator=g), size=16, mode="bilinear")
    images = (smooth + 0.05 * torch.rand(6, 3, 16, 16, generator=g)) * 2 - 1
    init_patch_paths_with_pca(model, images, logvar=-7.0)
    patches = images.reshape(6, 3, 8, 2, 8, 2).permute(0, 2, 4, 1, 3, 5).reshape(-1, 12)  # pixel_unshuffle by hand
    centred = patches - patches.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    expected_patches = centred @ v[:3].T @ v[:3] + patches.mean(0)
    expected = expected_patches.reshape(6, 8, 8, 3, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(6, 3, 16, 16)
    with torch.no_grad():
        mean, logvar = model.encode(images)
        torch.testing.assert_close(model.decode(mean), expected, atol=1e-4, rtol=1e-4)
    assert torch.all(logvar == -7.0)
    error = (model.decode(mean) - images).pow(2).mean()
    assert error < 0.5 * (images - images.mean()).pow(2).mean()  # a codec, not a constant


@pytest.mark.parametrize(("kernel", "factor"), [(4, 2), (6, 2), (16, 8)])
def test_lapped_window_squares_overlap_add_to_one(kernel, factor):
    from latent_atlas.spaces.autoencoder_kl import lapped_window

    cfg = AutoencoderKLConfig(block_out_channels=(8,) * (factor.bit_length()), patch_skip=True, patch_kernel=kernel)
    window = lapped_window(cfg)
    blocks = 6
    covered = torch.nn.functional.fold((window**2).reshape(1, -1, 1).expand(1, -1, blocks**2), (blocks - 1) * factor + kernel, kernel, stride=factor)
    inner = covered[0, 0, kernel - factor : -(kernel - factor), kernel - factor : -(kernel - factor)]
    torch.testing.assert_close(inner, torch.ones_like(inner))


def test_lapped_pca_initialisation_at_full_rank_reconstructs_exactly():
    """With as many latent channels as a window has values, windowed analysis and overlap-added synthesis by the
    same sine window give the image back (away from the half-window border that replication approximates)."""
    from latent_atlas.spaces.autoencoder_kl import init_patch_paths_with_pca

    cfg = replace(LAPPED, latent_channels=48)
    model = _model(cfg)
    images = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    init_patch_paths_with_pca(model, images)
    with torch.no_grad():
        recon = model.decode(model.encode(images)[0])
    torch.testing.assert_close(recon[..., 1:-1, 1:-1], images[..., 1:-1, 1:-1], atol=1e-4, rtol=1e-4)
    low_rank = replace(LAPPED, latent_channels=3)
    model = _model(low_rank)
    init_patch_paths_with_pca(model, images)
    with torch.no_grad():
        error = (model.decode(model.encode(images)[0]) - images).pow(2).mean()
    assert 0.0 < error < (images - images.mean()).pow(2).mean()  # rank 3 of 48: a lossy codec, better than a constant


POOLED = replace(LAPPED, encoder_type="pooled", pool_width=4, pool_order=1, latent_channels=4)


def test_pooling_windows_are_unit_gaussian_moments():

    windows = pooling_windows(replace(POOLED, pool_order=2))  # factor 2, sigma 1.2 px: 2 + 2 x 4 pixels
    assert windows.shape == (6, 10, 10)
    torch.testing.assert_close(windows.flatten(1).norm(dim=1), torch.ones(6))
    gauss, y_moment, x_moment = windows[0], windows[1], windows[2]
    torch.testing.assert_close(gauss, gauss.flip(0))  # even in both axes, centred between pixels 4 and 5
    torch.testing.assert_close(gauss, gauss.T)
    torch.testing.assert_close(x_moment, -x_moment.flip(1))  # odd in x, even in y
    torch.testing.assert_close(y_moment, x_moment.T)
    assert gauss[4, 4] > gauss[0, 4] > gauss[0, 0] > 0


def test_pooled_latents_move_with_the_image():
    """Moving the image by f pixels moves the pooled encoder's latents by exactly one latent pixel (away from the
    borders, which replication pads): its latents are samples of one field that moves with the image."""
    model = _model(POOLED)
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3)) * 2 - 1
    with torch.no_grad():
        latents = model.encode(image)[0]  # [1, 4, 16, 16]
        moved = model.encode(image[..., 2:, 2:])[0]  # moved up-left by one latent pixel (factor 2)
    torch.testing.assert_close(moved[..., 3:-4, 3:-4], latents[..., 4:-4, 4:-4])
    assert (latents[..., 4:-4, 4:-4] - latents[..., 3:-5, 3:-5]).abs().max() > 1e-3  # and they are not constant


def test_pooled_pca_start_is_a_linear_codec(tmp_path):
    from latent_atlas.spaces.autoencoder_kl import init_pooled_with_pca

    model = _model(POOLED)
    g = torch.Generator().manual_seed(0)
    images = torch.nn.functional.interpolate(torch.rand(6, 3, 4, 4, generator=g), size=16, mode="bilinear") * 2 - 1
    init_pooled_with_pca(model, images, logvar=-7.0)
    with torch.no_grad():
        mean, logvar = model.encode(images)
        error = (model.decode(mean) - images).pow(2).mean()
    assert torch.all(logvar == -7.0)
    torch.testing.assert_close(mean.std(dim=(0, 2, 3)), torch.ones(4), atol=0.02, rtol=0)  # whitened components
    assert error < 0.3 * (images - images.mean()).pow(2).mean()  # a codec, not a constant
    folder = save_pretrained(model, tmp_path / "pooled")
    assert json.loads((folder / "config.json").read_text())["encoder_type"] == "pooled"
    _same_outputs(model, load_autoencoder(folder))
    bare = tmp_path / "pooled.safetensors"
    save_file(model.state_dict(), str(bare))
    with pytest.raises(DataError, match=r"pooled.safetensors.*pooled-encoder.*config.json"):
        load_autoencoder(bare)
    with pytest.raises(ValueError, match="encoder_type 'pooling': choose cnn or pooled"):
        AutoencoderKL(replace(POOLED, encoder_type="pooling"))
    with pytest.raises(ValueError, match="pool_windows 'radial': choose hermite or isotropic"):
        AutoencoderKL(replace(POOLED, pool_windows="radial"))


def test_isotropic_pooled_latents_turn_with_the_image():
    """With isotropic windows and per-pixel features, the latents of an image turned by 90 degrees are its latents
    turned likewise (a camera's roll does not change what a latent pixel says); oriented windows break this."""
    cfg = replace(POOLED, pool_windows="isotropic", pool_order=1, pool_feature_kernel=1)
    image = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(4)) * 2 - 1
    for config, turns_with_it in ((cfg, True), (replace(cfg, pool_windows="hermite"), False)):
        model = _model(config)
        with torch.no_grad():
            latents = model.encode(image)[0]
            turned = model.encode(torch.rot90(image, 1, dims=(2, 3)))[0]
        error = (turned - torch.rot90(latents, 1, dims=(2, 3))).abs().max().item()
        assert (error < 1e-5) == turns_with_it, (config.pool_windows, error)
    windows = pooling_windows(cfg)
    assert windows.shape[0] == 4  # two scales, a Gaussian and a ring each
    torch.testing.assert_close(windows, torch.rot90(windows, 1, dims=(1, 2)))
    assert abs(windows[1].sum()) < 0.05 * windows[0].sum()  # the ring window is about zero-mean


@pytest.mark.parametrize("name", ["tiny", "latlas-f4c16-pooled"])
def test_decoding_through_the_head_alone_is_the_same_image_and_trains_only_the_head(name):
    """decode(z, trunk_gradients=False): the same image as decode(z); its gradients reach the decoder head's
    parameters (the last up block, output norm and conv, patch path) and nothing before the head."""
    model = _model(preset_config(name))
    head = model.decoder_head_parameters()
    last = len(model.decoder.up_blocks) - 1
    assert head and all(k.startswith((f"decoder.up_blocks.{last}.", "decoder.conv_norm_out.", "decoder.conv_out.", "decoder.patch_skip.")) for k in head)
    assert {"decoder.conv_out.weight", f"decoder.up_blocks.{last}.resnets.0.conv1.weight"} <= set(head)
    z = torch.randn(1, 4, 4, model.latent_channels).permute(0, 3, 1, 2)  # channels last, as renders are
    full = model.decode(z)
    through_head = model.decode(z, trunk_gradients=False)
    torch.testing.assert_close(through_head, full)
    through_head.square().mean().backward()
    for name_, p in model.named_parameters():
        assert (p.grad is not None and float(p.grad.abs().sum()) > 0) == (name_ in head), name_
