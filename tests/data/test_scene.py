"""Compact scene records: cameras in one tensor and paths in one string, read back as they were."""

from __future__ import annotations

from pathlib import Path

import torch

from latent_atlas.cameras import Cameras, PackedCameras
from latent_atlas.data.scene import PathList, SceneData, SceneSplit, compact_records


def test_compact_records_keep_every_camera_and_path():
    poses = torch.eye(4).repeat(3, 1, 1)
    poses[:, 2, 3] = torch.tensor([1.0, 2.0, 3.0])
    cameras = Cameras(poses, 100.0, 100.0, 16.0, 16.0, 32, 32)
    paths = [Path(f"/data/scene_7/train/r_{i}.png") for i in range(3)]
    scene = SceneData({"train": SceneSplit(torch.zeros(3, 32, 32, 4, dtype=torch.uint8), cameras, paths)}, Path("/data/scene_7"), "blender")
    compact_records(scene)
    split = scene.split("train")
    assert isinstance(split.cameras, PackedCameras) and isinstance(split.image_paths, PathList)
    assert torch.equal(split.cameras.camera_to_worlds, poses) and torch.equal(split.cameras.width, torch.full((3,), 32))
    assert list(split.image_paths) == paths and split.image_paths[-1] == paths[-1] and split.image_paths[1:] == paths[1:]
    assert len(split.image_paths) == 3 and len(PathList([])) == 0 and list(PathList([])) == []
    compact_records(scene)  # twice: nothing changes
    assert list(split.image_paths) == paths
