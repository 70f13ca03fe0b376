"""Dynamic scenes: the synth family, D-NeRF's deformation, k-planes' time planes, and time through eval and render."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from latent_atlas.data.loading import load_scene
from latent_atlas.data.synth.families import Motion, posed
from latent_atlas.data.synth.sdf import Primitive
from latent_atlas.encodings.kplanes import KPlanesConfig, KPlanesEncoding
from latent_atlas.encodings.planes import time_plane_features
from latent_atlas.errors import DataError
from latent_atlas.evaluation.render import RenderConfig, render_video
from latent_atlas.fields.deformation import DeformationField, DeformationFieldConfig
from latent_atlas.losses.regularisers import time_smoothness
from latent_atlas.methods.registry import method_config
from latent_atlas.tasks.scene import SceneTask
from tests.tasks.helpers import tiny_config


def test_synth_dynamic_writes_the_dnerf_layout(dynamic_scene, micro_scene):
    frames = json.loads((dynamic_scene / "transforms_train.json").read_text())["frames"]
    times = [f["time"] for f in frames]
    assert times[0] == 0.0 and times[-1] == 1.0 and times == sorted(times)
    scene = load_scene(dynamic_scene, "dnerf")
    with pytest.raises(DataError, match="need a 'time'"):
        load_scene(micro_scene, "dnerf")  # a static scene is no D-NeRF scene
    assert scene.split("train").dynamic and scene.split("test").metadata["time"].shape == (3, 1)
    prims = [Primitive("sphere", (0.0, 0.0, 0.0), (0.2,), (1.0, 0.0, 0.0))]
    moved = posed(prims, [Motion((0.3, 0.0, 0.0), 1.0)], 0.5)[0]
    assert moved.center == pytest.approx((0.15, 0.0, 0.0)) and moved.rotation_z == pytest.approx(0.5)


def test_deformation_is_zero_at_the_canonical_time_and_at_the_start():
    torch.manual_seed(0)
    deformation = DeformationField(DeformationFieldConfig(width=32, depth=2, skips=()))
    x = torch.rand(10, 3)
    assert torch.equal(deformation(x, torch.rand(10, 1)), torch.zeros(10, 3))  # zero-initialised last layer
    torch.nn.init.normal_(deformation.mlp.out.weight)
    moved = deformation(x, torch.full((10, 1), 0.5))
    assert moved.abs().sum() > 0 and torch.equal(deformation(x, torch.zeros(10, 1)), torch.zeros(10, 3))


def test_time_planes_bilinear_values_and_static_start():
    # planes equal to their time coordinate in [-1, 1]: the product of three is t^3
    t_axis = torch.linspace(-1, 1, 5)
    planes = t_axis[None, None, None, :, None].expand(1, 3, 1, 5, 4).clone()
    points, times = torch.rand(1, 6, 3) * 2 - 1, torch.rand(1, 6, 1) * 2 - 1
    torch.testing.assert_close(time_plane_features(planes, points, times)[0, :, 0], times[0, :, 0] ** 3)
    enc = KPlanesEncoding(KPlanesConfig(base_resolution=8, multiscale=(1,), features=4, time_resolution=5))
    x = torch.rand(7, 3)
    torch.testing.assert_close(enc(x, torch.rand(7, 1)), enc(x))  # time planes start at one: no time dependence
    linear = t_axis[:, None].expand(5, 4)
    assert time_smoothness(linear).item() == pytest.approx(0.0, abs=1e-12)
    assert time_smoothness((t_axis**2)[:, None].expand(5, 4)).item() == pytest.approx((2 * 0.5**2) ** 2)


@pytest.mark.parametrize("method", ["dnerf", "kplanes-dynamic"])
def test_dynamic_methods_learn_and_render_over_time(method, dynamic_scene, tmp_path):
    model = method_config(method).model
    overrides = {"rays_per_batch": 256, "background": "white"}  # 512 rays: dnerf 150 steps 17.5 dB in 21 s; 256 rays, 200 steps: 20.4 in 17 s
    if method == "dnerf":
        model.field.width, model.field.depth, model.field.skips, model.field.view_dependent = 64, 3, (), False
        model.field.position_frequencies, model.n_samples, model.n_importance = 6, 32, 0
        model.deformation.width, model.deformation.depth, model.deformation.skips = 64, 3, ()
        steps = 200
    else:
        model.field.kplanes.base_resolution, model.field.kplanes.multiscale, model.field.kplanes.features = 24, (1,), 16
        model.proposal_resolutions, model.proposal_samples, model.nerf_samples = (24, 24), (32, 16), 16
        steps = 250
    cfg = tiny_config(dynamic_scene, tmp_path, steps=steps, method=method, model=model, **overrides)
    if method == "dnerf":
        cfg.method.optimizers["fields"].lr, cfg.method.optimizers["fields"].lr_final = 3e-3, 3e-4
    task = SceneTask(cfg)
    run = task.train()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["eval_psnr"] > 16.0, summary  # a constant white image: 13.1 dB
    video = render_video(RenderConfig(run=run, over_time=True, frames=3, format="png"))
    frames = sorted(video.glob("*.png"))
    assert len(frames) == 3
    first, last = (np.asarray(Image.open(f)).astype(float) for f in (frames[0], frames[-1]))
    assert np.abs(first - last).mean() > 1.0  # the same camera sees the scene move
    seen, forward = [], task.model.forward
    task.model.forward = lambda rays, background: (seen.append(rays.metadata["time"]), forward(rays, background))[1]
    task.score_view("val", 2)  # held-out frames are rendered at their own time
    assert torch.all(seen[0] == task.eval_split.metadata["time"][2])
