"""Mapping a scene into a latent space: shapes, cameras, background, and the latent cache."""

from __future__ import annotations

import os
import shutil

import torch

from latent_atlas.data.loading import load_scene
from latent_atlas.spaces.autoencoder_kl import AutoencoderKL
from latent_atlas.spaces.image_space import LatentSpace, RGBSpace
from latent_atlas.spaces.latent_cache import LatentCache
from latent_atlas.spaces.presets import preset_config


def _space(cache_dir, seed=0) -> LatentSpace:
    torch.manual_seed(seed)
    return LatentSpace(AutoencoderKL(preset_config("tiny")).eval(), LatentCache(cache_dir))


def test_scene_in_latent_space(tiny_scene, tmp_path):
    scene = load_scene(tiny_scene)
    space = _space(tmp_path)
    white = torch.ones(3)
    latent = space.map_scene(scene, white)
    train, rgb_train = latent.split("train"), scene.split("train")
    assert train.images.shape == (len(rgb_train), 4, 4, 5)  # 32 / 8 = 4, 4 channels + alpha
    assert train.images.dtype == torch.float32 and (train.images[..., -1] == 1).all()
    assert 0 <= train.images[..., :-1].min() and train.images[..., :-1].max() <= 1
    torch.testing.assert_close(train.cameras.fx, rgb_train.cameras.fx / 8)
    torch.testing.assert_close(train.cameras.cx, rgb_train.cameras.cx / 8)
    assert int(train.cameras.width[0]) == 4
    # the latent pixels equal encoding the composited images directly
    direct = space.encode(rgb_train.rgba(slice(0, 2))[..., :3] * rgb_train.rgba(slice(0, 2))[..., 3:] + (1 - rgb_train.rgba(slice(0, 2))[..., 3:]))
    torch.testing.assert_close(train.images[:2, ..., :-1], direct, atol=1e-5, rtol=1e-5)
    bg = space.background_value(white)
    assert bg.shape == (4,)
    torch.testing.assert_close(bg, space.encode(torch.ones(1, 32, 32, 3))[0, 2, 2], atol=1e-5, rtol=1e-5)
    assert RGBSpace().map_scene(scene, None) is scene


def test_latent_cache_reused_then_invalidated(tiny_scene, tmp_path):
    scene = load_scene(tiny_scene)
    first = _space(tmp_path)
    a = first.map_scene(scene, torch.ones(3))
    assert first.cache.misses == 3 and first.cache.hits == 0
    second = _space(tmp_path)  # same weights: every split comes from the cache
    b = second.map_scene(scene, torch.ones(3))
    assert second.cache.hits == 3 and second.cache.misses == 0
    torch.testing.assert_close(a.split("train").images, b.split("train").images)
    changed = _space(tmp_path)
    with torch.no_grad():
        changed.autoencoder.encoder.conv_in.bias.add_(0.1)
    changed.map_scene(scene, torch.ones(3))
    assert changed.cache.misses == 3
    black = _space(tmp_path)
    black.map_scene(scene, torch.zeros(3))  # another background is another encoding
    assert black.cache.misses == 3
    decoder_only = _space(tmp_path)
    with torch.no_grad():
        decoder_only.autoencoder.decoder.conv_out.bias.add_(0.1)
    decoder_only.map_scene(scene, torch.ones(3))  # latents do not depend on the decoder
    assert decoder_only.cache.hits == 3


def test_latent_cache_follows_pixels_not_paths(tiny_scene, tmp_path):
    """A copy of the scene's folder (new paths, new modification times) reads every split from the cache; one
    changed pixel of one training view encodes that split again, and only it."""
    _space(tmp_path / "cache").map_scene(load_scene(tiny_scene), torch.ones(3))
    copy = tmp_path / "copy"
    shutil.copytree(tiny_scene, copy)  # copytree keeps modification times: touch them
    for image in copy.rglob("*.png"):
        os.utime(image, ns=(1, 1))
    copied = _space(tmp_path / "cache")
    copied.map_scene(load_scene(copy), torch.ones(3))
    assert copied.cache.hits == 3 and copied.cache.misses == 0
    edited = load_scene(copy)
    edited.split("train").images[0, 0, 0, 0] ^= 1
    changed = _space(tmp_path / "cache")
    changed.map_scene(edited, torch.ones(3))
    assert changed.cache.misses == 1 and changed.cache.hits == 2


def test_latents_held_in_fp16(tiny_scene, tmp_path):
    """--target-precision fp16: half the bytes, read back as fp32 within fp16's rounding, alpha exactly 1."""
    scene = load_scene(tiny_scene)
    space = _space(tmp_path)
    full = space.map_scene(scene, torch.ones(3)).split("train")
    half = space.map_scene(scene, torch.ones(3), "fp16").split("train")
    assert half.images.dtype == torch.float16 and half.images.element_size() * 2 == full.images.element_size()
    read = half.rgba(slice(None))
    assert read.dtype == torch.float32 and (read[..., -1] == 1).all()
    assert (read - full.rgba(slice(None))).abs().max() <= 2**-12  # values in [0, 1]: half an fp16 ulp below 1
    assert (read != full.rgba(slice(None))).any()  # it was rounded, not passed through


def test_channel_sensitivity_of_a_linear_decoder(tmp_path):
    """decode(v) = v A per pixel: noise of std s on channel c moves output j by s A[c, j], so the sensitivity is
    mean_j A[c, j]^2 (4/3, 1/3, 0, 1 here), to sampling error; an RGB space weighs every channel 1."""
    space = _space(tmp_path)
    mix = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    space.decode = lambda values: values @ mix
    values = torch.rand(4, 16, 16, 4)
    sensitivity = space.channel_sensitivity(values, noise=0.01, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(sensitivity, torch.tensor([4 / 3, 1 / 3, 0.0, 1.0]), rtol=0.1, atol=1e-6)
    assert torch.equal(RGBSpace().channel_sensitivity(values[..., :3]), torch.ones(3))


def test_decoding_is_nchw_under_autocast(tmp_path, monkeypatch):
    """decoded_loss (stage 2) and decode (a single scene's decoded phase) hand the decoder the render's channels-last
    view in fp32 and an NCHW copy under autocast (bf16 convolutions on a CPU are faster from NCHW); the loss is the
    same either way."""
    space = _space(tmp_path)
    render = torch.rand(2, 4, 4, 4)  # [views, h, w, latent channels]
    rgb = torch.rand(2, 32, 32, 3)
    seen = []
    decode = space.autoencoder.decode
    monkeypatch.setattr(space.autoencoder, "decode", lambda z: seen.append(z.is_contiguous()) or decode(z))
    with torch.no_grad():
        full = space.decoded_loss(render, rgb)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = space.decoded_loss(render, rgb)
        decoded = space.decode(render)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            decoded_mixed = space.decode(render)
    assert seen == [False, True, False, True]
    assert abs(float(mixed) - float(full)) < 0.02 * float(full)
    assert (decoded_mixed.float() - decoded).abs().max() < 0.05
