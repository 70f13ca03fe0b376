"""Colour spaces and tone curves of the pixel losses against known values, and a run that trains in one."""

from __future__ import annotations

import pytest
import torch

from latent_atlas.errors import ConfigError
from latent_atlas.losses import PixelLoss
from latent_atlas.losses.colour import hsv_cone, rgb_to_hsv, rgb_to_luminance, rgb_to_xyz, srgb_to_linear, tone_map
from latent_atlas.tasks.scene import SceneTask
from tests.tasks.helpers import tiny_config


def test_hsv_of_known_colours_has_real_chroma():
    colours = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0.5, 0.5, 0.5], [1.0, 1.0, 0], [0.5, 0.25, 0.25], [0, 0, 0]])
    expected = torch.tensor([[0, 1, 1], [1 / 3, 1, 1], [2 / 3, 1, 1], [0, 0, 0.5], [1 / 6, 1, 1], [0, 0.5, 0.5], [0, 0, 0]])
    torch.testing.assert_close(rgb_to_hsv(colours), expected, atol=1e-6, rtol=0)
    magenta = rgb_to_hsv(torch.tensor([1.0, 0.0, 1.0]))
    assert magenta[0] == pytest.approx(5 / 6) and magenta[1] == 1.0  # the atlas's conversion gave zero chroma


def test_xyz_and_luminance_of_known_colours():
    torch.testing.assert_close(rgb_to_xyz(torch.ones(3)), torch.tensor([0.9505, 1.0000, 1.0888]), atol=1e-4, rtol=0)
    torch.testing.assert_close(rgb_to_xyz(torch.tensor([1.0, 0, 0])), torch.tensor([0.4125, 0.2127, 0.0193]), atol=1e-4, rtol=0)
    assert rgb_to_luminance(torch.tensor([0.0, 1.0, 0.0])).item() == pytest.approx(0.7152, abs=1e-4)
    assert srgb_to_linear(torch.tensor(0.5)).item() == pytest.approx(0.21404, abs=1e-5)  # sRGB mid grey


def test_hsv_cone_is_continuous_across_the_hue_wrap():
    just_below_red = torch.tensor([1.0, 0.0, 0.001])  # hue 0.9998
    just_above_red = torch.tensor([1.0, 0.001, 0.0])  # hue 0.0002
    assert (hsv_cone(just_below_red) - hsv_cone(just_above_red)).abs().max() < 0.01
    assert abs(rgb_to_hsv(just_below_red)[0] - rgb_to_hsv(just_above_red)[0]) > 0.99  # while hue itself jumps


def test_tone_curves():
    x = torch.tensor([0.0, 0.25, 1.0])
    torch.testing.assert_close(tone_map(x, "gamma", 2.0), torch.tensor([0.001, 0.5, 1.0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(tone_map(x, "reinhard"), torch.tensor([0.0, 0.2, 0.5]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("space", ["hsv", "luminance", "xyz"])
def test_loss_in_a_colour_space_falls_as_images_match_and_has_finite_gradients(space):
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(256, 3, generator=generator)
    target[:8] = 0.0  # black and grey pixels: hue undefined
    target[8:16] = 0.5
    loss = PixelLoss(("l2:1", "l1:0.5"), colour_space=space, tone="gamma")
    far = (target + 0.3 * torch.randn(256, 3, generator=generator)).clamp(0, 1).requires_grad_(True)
    near = (target + 0.02 * torch.randn(256, 3, generator=generator)).clamp(0, 1)
    total_far = sum(loss(far, target).values())
    total_far.backward()
    assert torch.isfinite(far.grad).all()
    assert sum(loss(near, target).values()) < total_far
    assert sum(loss(target, target).values()).item() == 0.0


def test_tiny_nerf_learns_with_an_xyz_loss(tiny_scene, tmp_path):
    cfg = tiny_config(tiny_scene, tmp_path, steps=150, rays_per_batch=512, background="white", loss_colour_space="xyz", loss_tone_map="gamma")
    task = SceneTask(cfg)
    task.train()
    assert task.evaluate()["eval_psnr"] > 17.0


def test_colour_spaces_are_refused_in_a_latent_space(tiny_scene, tmp_path):
    with pytest.raises(ConfigError, match="apply to RGB images"):
        SceneTask(tiny_config(tiny_scene, tmp_path, steps=1, space="latent", ae="x", loss_colour_space="hsv"))
