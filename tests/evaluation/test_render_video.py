"""`latlas render`: camera paths (orbit, spiral, interpolate, nerfstudio camera_path.json) and MP4/GIF/PNG
videos with rgb, depth, accumulation side by side, read back and compared with direct renders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from latent_atlas.cli.main import main
from latent_atlas.evaluation.camera_paths import (
    interpolate_path,
    nerfstudio_camera_path,
    orbit_path,
    quaternion_to_rotation,
    rotation_to_quaternion,
    spiral_path,
)
from latent_atlas.evaluation.loading import load_trained_run
from latent_atlas.evaluation.video import read_video
from latent_atlas.tasks.scene import SceneTask
from tests.tasks.helpers import tiny_config


@pytest.fixture(scope="module")
def run(micro_scene, tmp_path_factory):
    return SceneTask(tiny_config(micro_scene, tmp_path_factory.mktemp("video"), steps=40, rays_per_batch=256)).train()


def test_spiral_mp4_with_rgb_and_depth_reads_back(run, tmp_path):
    video = tmp_path / "spiral.mp4"
    assert main(["render", "--run", str(run), "--path", "spiral", "--format", "mp4", "--outputs", "rgb", "depth", "--frames", "6", "--output", str(video)]) == 0
    frames, fps = read_video(video)
    assert len(frames) == 6 and frames[0].shape == (16, 32, 3) and fps == 20.0  # 16x16 rgb | 16x16 depth
    assert np.abs(frames[0].astype(int) - frames[3].astype(int)).mean() > 1.0  # the camera moved
    trained = load_trained_run(run, "cpu")
    cameras = spiral_path(trained.scene.split("train").cameras, 6)
    direct = (trained.render(0, cameras, 0)["color"].clamp(0, 1).numpy() * 255).astype(int)
    assert np.abs(frames[0][:, :16].astype(int) - direct).mean() < 12  # H.264 is lossy, the image is the same


def test_png_frames_at_a_higher_resolution(run, tmp_path):
    folder = tmp_path / "frames"
    assert (
        main(
            [
                "render",
                "--run",
                str(run),
                "--path",
                "interpolate",
                "--format",
                "png",
                "--frames",
                "3",
                "--resolution",
                "32",
                "--outputs",
                "rgb",
                "accumulation",
                "--output",
                str(folder),
            ]
        )
        == 0
    )
    pngs = sorted(folder.glob("frame_*.png"))
    from PIL import Image

    assert len(pngs) == 3 and Image.open(pngs[0]).size == (64, 32)


def test_camera_path_json_round_trip_and_render(run, tmp_path, capsys):
    saved = tmp_path / "camera_path.json"
    assert main(["render", "--run", str(run), "--path", "orbit", "--frames", "4", "--format", "gif", "--save-path", str(saved)]) == 0
    data = json.loads(saved.read_text())
    assert len(data["camera_path"]) == 4 and len(data["camera_path"][0]["camera_to_world"]) == 16
    trained = load_trained_run(run, "cpu")
    original = orbit_path(trained.scene.split("train").cameras, 4)
    loaded, fps = nerfstudio_camera_path(saved, trained.scene.split("train").cameras)
    assert fps == 20.0
    torch.testing.assert_close(loaded.camera_to_worlds, original.camera_to_worlds, atol=1e-5, rtol=0)
    torch.testing.assert_close(loaded.fy, original.fy, atol=1e-3, rtol=0)
    out = tmp_path / "from-json.gif"
    assert main(["render", "--run", str(run), "--path", str(saved), "--format", "gif", "--output", str(out)]) == 0
    from PIL import Image

    assert Image.open(out).n_frames == 4


def test_interpolate_passes_through_the_training_cameras(run):
    cameras = load_trained_run(run, "cpu").scene.split("train").cameras
    path = interpolate_path(cameras, 12, keyframes=len(cameras))
    torch.testing.assert_close(path.camera_to_worlds[0], cameras.camera_to_worlds[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(path.camera_to_worlds[2], cameras.camera_to_worlds[1], atol=1e-5, rtol=0)


def test_quaternion_round_trip():
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        q, _ = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
        q = q * torch.sign(torch.linalg.det(q))
        torch.testing.assert_close(quaternion_to_rotation(rotation_to_quaternion(q)), q, atol=1e-9, rtol=0)


def test_bad_paths_and_outputs_are_one_line(run, tmp_path, capsys):
    assert main(["render", "--run", str(run), "--path", "zigzag"]) == 2
    assert "--path zigzag: choose orbit, spiral, interpolate or a camera_path.json file" in capsys.readouterr().err
    assert main(["render", "--run", str(run), "--outputs", "latent", "--frames", "1"]) == 2
    assert "this run learns in RGB" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text('{"camera_path": [{"camera_to_world": [1, 0, 0], "fov": 40}]}')
    assert main(["render", "--run", str(run), "--path", str(tmp_path / "bad.json")]) == 2
    assert "camera_to_world must be 16 numbers" in capsys.readouterr().err
