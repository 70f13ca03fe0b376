"""Per-frame metadata: a time-stamped Blender-layout scene is read as dynamic and each frame's time reaches its rays."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from latent_atlas.data.loading import load_scene
from latent_atlas.data.pixel_sampler import PixelSampler
from latent_atlas.errors import DataError
from latent_atlas.tasks.scene import SceneTask
from tests.tasks.helpers import tiny_config


def _with_times(scene, dest):
    """A copy of a Blender-layout scene whose frame i of each split has time i / (n - 1)."""
    shutil.copytree(scene, dest)
    for split in ("train", "val", "test"):
        path = dest / f"transforms_{split}.json"
        meta = json.loads(path.read_text())
        n = len(meta["frames"])
        for i, frame in enumerate(meta["frames"]):
            frame["time"] = i / max(n - 1, 1)
        path.write_text(json.dumps(meta))
    return dest


def test_time_stamped_blender_scene_is_dynamic(micro_scene, tmp_path):
    scene = load_scene(_with_times(micro_scene, tmp_path / "dyn"), "blender")
    train = scene.split("train")
    assert train.dynamic and train.metadata["time"].shape == (len(train), 1)
    torch.testing.assert_close(train.metadata["time"][:, 0], torch.linspace(0, 1, len(train)))
    batch = PixelSampler(train, seed=0).sample(64)
    torch.testing.assert_close(batch.metadata["time"][:, 0], batch.camera_indices.float() / (len(train) - 1))
    assert not load_scene(micro_scene, "blender").split("train").dynamic


def test_each_rays_time_reaches_the_model(micro_scene, tmp_path):
    task = SceneTask(tiny_config(_with_times(micro_scene, tmp_path / "dyn"), tmp_path, steps=1, rays_per_batch=32))
    seen = []
    forward = task.model.forward
    task.model.forward = lambda rays, bg: seen.append(rays) or forward(rays, bg)
    task.train_step()
    rays = seen[0]
    n = len(task.train_split)
    torch.testing.assert_close(rays.metadata["time"][:, 0], rays.camera_indices.float() / (n - 1))


def test_time_on_some_frames_only_is_an_error(micro_scene, tmp_path):
    dest = _with_times(micro_scene, tmp_path / "dyn")
    path = dest / "transforms_train.json"
    meta = json.loads(path.read_text())
    del meta["frames"][1]["time"]
    path.write_text(json.dumps(meta))
    with pytest.raises(DataError, match="frame 1 has no 'time'"):
        load_scene(dest)
