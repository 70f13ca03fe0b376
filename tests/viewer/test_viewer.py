"""The viewer without a browser: camera conversions round-trip, frames decode, training with --viewer runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from latent_atlas.data.loading import load_scene
from latent_atlas.evaluation.camera_paths import orbit_path
from latent_atlas.evaluation.loading import load_trained_run
from latent_atlas.tasks.scene import SceneTask
from latent_atlas.viewer.camera import frustum_pose, vertical_fov, viewer_camera
from tests.tasks.helpers import tiny_config

pytest.importorskip("viser", reason="viser is not installed (pip install 'latent-atlas[viewer]')")


def test_viser_camera_round_trip(micro_scene):
    cameras = orbit_path(load_scene_cameras(micro_scene), 5)
    for i in range(5):
        wxyz, position = frustum_pose(cameras.camera_to_worlds[i])
        back = viewer_camera(wxyz, position, vertical_fov(cameras, i), 1.0, int(cameras.height[i]))
        torch.testing.assert_close(back.camera_to_worlds[0], cameras.camera_to_worlds[i], atol=1e-5, rtol=0)
        torch.testing.assert_close(back.fy[0], cameras.fy[i], atol=1e-3, rtol=0)


def load_scene_cameras(folder):
    from latent_atlas.data.loading import load_scene

    return load_scene(folder).split("train").cameras


def test_training_with_the_viewer(micro_scene, tmp_path, capsys):
    from latent_atlas.viewer.callback import ViewerCallback

    callback = ViewerCallback(port=0)
    run = SceneTask(tiny_config(micro_scene, tmp_path, steps=12, rays_per_batch=64)).train(callbacks=(callback,))
    assert "viewer: http://127.0.0.1:" in capsys.readouterr().out
    assert callback.viewer is None  # closed at the end of training
    assert json.loads((run / "summary.json").read_text())["steps"] == 12


def test_viewer_frame_is_the_render(micro_scene, tmp_path):
    from latent_atlas.viewer.server import Viewer, ViewerOptions

    run_dir = SceneTask(tiny_config(micro_scene, tmp_path, steps=5, rays_per_batch=64)).train()
    run = load_trained_run(run_dir, "cpu")
    cameras = run.scene.split("train").cameras
    viewer = Viewer(lambda s, c, m=None: run.render(s, c, 0, m), run.space, [("scene", cameras)], ViewerOptions(port=0))
    try:
        frame = viewer._frame(0, cameras[0:1], "rgb")
        direct = (run.render(0, cameras[0:1], 0)["color"].clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
        assert np.abs(frame.astype(int) - direct.astype(int)).max() <= 1
        depth = viewer._frame(0, cameras[0:1], "depth")
        assert depth.shape == frame.shape and depth.std() > 0
    finally:
        viewer.close()


def test_many_scene_run_has_a_scene_picker(tmp_path):
    from latent_atlas.cli.main import main
    from latent_atlas.data.synth.writer import SynthConfig, synthesize
    from latent_atlas.viewer.server import Viewer, ViewerOptions

    synthesize(SynthConfig(output=tmp_path / "cars", family="cars", num_scenes=2, resolution=16, num_train=3, num_val=1, num_test=1, seed=4, supersample=1))
    args = ["triplanes", "--data", str(tmp_path / "cars"), "--output-dir", str(tmp_path), "--no-progress", "--phases.0.epochs", "20", "--rays-per-view", "64"]
    assert main(args) == 0
    run = load_trained_run(next(tmp_path.glob("cars/*/*/config.json")).parent, "cpu")
    scenes = [(name, scene.split("train").cameras) for name, scene in zip(run.names, run.scenes)]
    viewer = Viewer(lambda s, c, m=None: run.render(s, c, 0, m), run.space, scenes, ViewerOptions(port=0))
    try:
        assert viewer.scene.options == ("scene_000", "scene_001") and viewer.scene.visible
        camera = scenes[0][1][0:1]
        assert np.abs(viewer._frame(0, camera, "rgb").astype(int) - viewer._frame(1, camera, "rgb").astype(int)).mean() > 1.0
    finally:
        viewer.close()


def test_dynamic_runs_get_a_time_slider_that_reaches_the_render(micro_scene):
    from latent_atlas.spaces.image_space import RGBSpace
    from latent_atlas.viewer.server import Viewer, ViewerOptions

    cameras = load_scene(micro_scene).split("train").cameras
    seen = []

    def render(scene, camera, metadata=None):
        seen.append(metadata)
        h, w = int(camera.height[0]), int(camera.width[0])
        return {"color": torch.ones(h, w, 3), "acc": torch.ones(h, w, 1), "depth": torch.ones(h, w, 1)}

    viewer = Viewer(render, RGBSpace(), [("scene", cameras)], ViewerOptions(port=0, dynamic=True))
    try:
        assert viewer.time.visible
        viewer.time.value = 0.7
        viewer._frame(0, cameras[0:1], "rgb")
        assert seen[-1]["time"].item() == pytest.approx(0.7)
    finally:
        viewer.close()
