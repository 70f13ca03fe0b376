"""NeRF-Synthetic ("Blender") layout: transforms_{train,val,test}.json with camera_angle_x."""

from __future__ import annotations

import math
from pathlib import Path

from latent_atlas.data.formats.common import build_split, frame_metadata
from latent_atlas.data.images import read_rgba, resolve_image_path
from latent_atlas.data.json_io import pose_matrix, read_json, require
from latent_atlas.data.scene import SPLITS, SceneData
from latent_atlas.data.validation import field_of_view, inside_folder
from latent_atlas.errors import DataError


def is_blender(folder: Path) -> bool:
    return (folder / "transforms_train.json").is_file()


def parse_blender(folder: Path) -> SceneData:
    """Parses a NeRF-Synthetic scene folder (RGBA images, `file_path` with or without extension)."""
    if not is_blender(folder):
        raise DataError(folder / "transforms_train.json", "file not found")
    splits = {}
    for split in SPLITS:
        path = folder / f"transforms_{split}.json"
        if not path.is_file():
            continue
        meta = read_json(path)
        angle_x = field_of_view(require(meta, "camera_angle_x", path), path, "camera_angle_x")
        frames = require(meta, "frames", path)
        if not isinstance(frames, list) or not frames:
            raise DataError(path, "'frames' must be a non-empty list")
        image_paths, poses = [], []
        for i, frame in enumerate(frames):
            where = f"frame {i}"
            image_paths.append(inside_folder(folder, require(frame, "file_path", path, f" in {where}"), path, where))
            poses.append(pose_matrix(require(frame, "transform_matrix", path, f" in {where}"), path, where))
        height, width = read_rgba(resolve_image_path(image_paths[0])).shape[:2]
        fx = 0.5 * width / math.tan(0.5 * angle_x)
        fy = fx
        if "camera_angle_y" in meta:
            fy = 0.5 * height / math.tan(0.5 * field_of_view(meta["camera_angle_y"], path, "camera_angle_y"))
        splits[split] = build_split(image_paths, poses, [(fx, fy, None, None)] * len(frames), source=path, metadata=frame_metadata(frames, path))
    return SceneData(splits=splits, source=folder, data_format="blender")


def parse_dnerf(folder: Path) -> SceneData:
    """The D-NeRF layout: a Blender scene whose every frame has a `time` (an error names the first split without)."""
    scene = parse_blender(folder)
    for name, split in scene.splits.items():
        if not split.dynamic:
            raise DataError(folder / f"transforms_{name}.json", "D-NeRF frames need a 'time' in [0, 1] (--data-format dnerf)")
    return scene
