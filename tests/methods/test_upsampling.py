"""Neural upsampling: block centres, the CNN's start (a bilinear skip), a short RGB run, and its one-line errors."""

import json

import pytest
import torch
import torch.nn.functional as F

from latent_atlas.errors import ConfigError
from latent_atlas.evaluation.evaluate import EvalConfig, evaluate_run
from latent_atlas.evaluation.render_views import render_image
from latent_atlas.methods.upsampling_model import NeuralUpsamplingConfig, PatchUpsampler, block_centres
from latent_atlas.tasks.scene import SceneTask
from tests.tasks.helpers import tiny_config


def test_block_centres_by_hand():
    x, y = block_centres(torch.tensor([0, 10]), torch.tensor([4, 0]), width=4, height=4, factor=2)
    # patch 0 at (0, 4): blocks' centres at pixel coordinates 0.5 and 2.5 (+0.5 is the continuous centre)
    assert x.tolist() == [0.5, 2.5, 0.5, 2.5, 10.5, 12.5, 10.5, 12.5]
    assert y.tolist() == [4.5, 4.5, 6.5, 6.5, 0.5, 0.5, 2.5, 2.5]


def test_upsampler_starts_as_a_bilinear_upsampling_of_the_first_channels():
    net = PatchUpsampler(features=6, channels=3, factor=4, width=8)
    features = torch.rand(2, 6, 5, 7)
    out = net(features)
    assert out.shape == (2, 3, 20, 28)
    expected = F.interpolate(features[:, :3], scale_factor=4, mode="bilinear", align_corners=False)
    torch.testing.assert_close(out, expected)


def _config(scene, out, **overrides):
    settings = {"steps": 100, "rays_per_batch": 4096, "background": "white", "sampler": "patches", "patch_size": 16, "eval_images": 3}
    settings.update(overrides)
    steps = settings.pop("steps")
    return tiny_config(scene, out, steps=steps, upsampling=NeuralUpsamplingConfig(factor=2, features=16), **settings)


def test_upsampled_tiny_nerf_learns_and_evaluates(tiny_scene, tmp_path):
    task = SceneTask(_config(tiny_scene, tmp_path))
    rendered, forward = [], task.model.inner.forward
    task.model.inner.forward = lambda rays, background: (rendered.append(len(rays)), forward(rays, background))[1]
    run = task.train()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["eval_psnr"] > 16.0, summary  # a constant white image: ~11 dB; 20.5 dB at 250 steps
    assert rendered[0] == 4096 // 4  # a ray per 2x2 block of the 4096 pixels
    result = evaluate_run(EvalConfig(run=run, max_images=3, split="val"))
    assert result["results"]["psnr"] == pytest.approx(summary["eval_psnr"], abs=0.05)  # the CNN is reloaded


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"background": "random"}, "random background"),
        ({"sampler": "rays"}, "add --sampler patches"),
        ({"patch_size": 15}, "multiple of --upsampling.factor"),
    ],
)
def test_upsampling_errors(tiny_scene, tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        SceneTask(_config(tiny_scene, tmp_path, steps=1, **overrides))


def test_upsampled_render_of_a_size_that_is_no_multiple_of_the_factor(tiny_scene, tmp_path):
    task = SceneTask(_config(tiny_scene, tmp_path, steps=1))
    cameras = task.train_split.cameras.rescale(30 / 32)  # 30 x 30 pixels, factor 2 -> 15 x 15 blocks; 31 x 31 -> cropped
    for camera in (cameras, task.train_split.cameras.rescale(31 / 32)):
        out = render_image(task.model, camera, 0, task.background_value, task.box_min, task.box_max)
        size = int(camera.height[0])
        assert out["color"].shape == (size, size, 3) and out["depth"].shape == (size, size, 1)
