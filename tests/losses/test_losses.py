"""Pixel losses: values by hand, the weighted list, and a patch loss that falls while tiny-nerf trains."""

from __future__ import annotations

import json
import math

import pytest
import torch

from latent_atlas.errors import ConfigError
from latent_atlas.losses import PIXEL_LOSSES, PixelLoss, parse_loss_terms
from latent_atlas.losses.pixel import channel_weights, charbonnier, fft_loss, l1, l2, rmse, ssim_loss
from latent_atlas.tasks.scene import SceneTask
from tests.tasks.helpers import tiny_config


def test_pixel_losses_by_hand():
    a, b = torch.zeros(4, 3), torch.full((4, 3), 0.5)
    assert l2(a, b).item() == pytest.approx(0.25)
    assert l1(a, b).item() == pytest.approx(0.5)
    assert rmse(a, b).item() == pytest.approx(0.5, abs=1e-5)
    assert charbonnier(a, b, eps=1e-3).item() == pytest.approx(math.sqrt(0.25 + 1e-6))
    patches = torch.rand(2, 8, 8, 3)
    assert ssim_loss(patches, patches).item() == pytest.approx(0.0, abs=1e-5)
    assert ssim_loss(patches, 1 - patches).item() > 0.5
    noise = torch.randn_like(patches)
    ssim_losses = [ssim_loss(patches + scale * noise, patches).item() for scale in (0.5, 0.2, 0.05, 0.0)]
    assert ssim_losses == sorted(ssim_losses, reverse=True) and ssim_losses[0] > ssim_losses[-1] + 0.3  # lower as images match
    # orthonormal FFT of a constant offset c on an h x w patch: only the DC term, sqrt(h w) c, out of h (w/2 + 1) terms
    offset = fft_loss(torch.zeros(1, 4, 4, 1), torch.full((1, 4, 4, 1), 0.5)).item()
    assert offset == pytest.approx(4 * 0.5 / (4 * 3))


def test_weighted_list_and_errors():
    assert parse_loss_terms(["l2:1.0", "ssim:0.2", "l1"]) == [("l2", 1.0), ("ssim", 0.2), ("l1", 1.0)]
    for bad in (["huber:1"], ["l2:x"], ["l2:-1"], ["l2:nan"], []):
        with pytest.raises(ConfigError):
            parse_loss_terms(bad)
    loss = PixelLoss(["l2:2.0", "ssim:0.5"])
    assert loss.needs_patches and set(PIXEL_LOSSES) >= {"l2", "l1", "rmse", "ssim", "fft"}
    pred, target = torch.rand(2 * 16, 3), torch.rand(2 * 16, 3)
    terms = loss(pred, target, patch=(4, 4))
    assert terms["color_l2"].item() == pytest.approx(2.0 * l2(pred, target).item())
    assert terms["color_ssim"].item() == pytest.approx(0.5 * ssim_loss(pred.reshape(2, 4, 4, 3), target.reshape(2, 4, 4, 3)).item())
    with pytest.raises(ConfigError, match="patches"):
        loss(pred, target)


def test_ssim_term_falls_when_tiny_nerf_trains_on_patches(tiny_scene, tmp_path):
    cfg = tiny_config(
        tiny_scene, tmp_path, steps=120, losses=("l2:1", "ssim:0.5"), sampler="patches", patch_size=8, rays_per_batch=256, log_every=1, background="white"
    )
    run = SceneTask(cfg).train()
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if "loss_color_ssim" in line]
    first, last = sum(x["loss_color_ssim"] for x in lines[:10]) / 10, sum(x["loss_color_ssim"] for x in lines[-10:]) / 10
    assert last < 0.7 * first, (first, last)


def test_patch_loss_without_patches_is_refused(tiny_scene, tmp_path):
    with pytest.raises(ConfigError, match="--sampler patches"):
        SceneTask(tiny_config(tiny_scene, tmp_path, steps=1, losses=("ssim:1",)))


def test_channel_weights_follow_the_decoder_with_a_floor():
    weights = channel_weights(torch.tensor([6.0, 2.0, 0.0, 0.0]), floor=0.1)  # relative 3, 1, 0, 0 -> 3, 1, 0.1, 0.1
    torch.testing.assert_close(weights, torch.tensor([3.0, 1.0, 0.1, 0.1]) / 1.05)
    assert float(weights.mean()) == pytest.approx(1.0)
