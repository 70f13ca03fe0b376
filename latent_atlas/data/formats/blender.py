"""NeRF-Synthetic ("Blender") layout: transforms_{train,val,test}.json with camera_angle_x."""

from __future__ import annotations

import math
from pathlib import Path

from latent_atlas.data.formats.common import build_split, frame_metadata
from latent_atlas.data.images import read_rgba, resolve_image_path
from latent_atlas.data.json_io import pose_matrix, read_json, require
from latent_atlas.data.scene import SPLITS, SceneData
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
        angle_x = float(require(meta, "camera_angle_x", path))
        frames = require(meta, "frames", path)
        if not isinstance(frames, list) or not frames:
            raise DataError(path, "'frames' must be a non-empty list")
        image_paths, poses = [], []
        for i, frame in enumerate(frames):
            where = f"frame {i}"
            file_path = require(frame, "file_path", path, f" in {where}")
            image_paths.append(folder / file_path)
            poses.append(pose_matrix(require(frame, "transform_matrix", path, f" in {where}"), path, where))
        width = read_rgba(resolve_image_path(image_paths[0])).shape[1]
        fx = 0.5 * width / math.tan(0.5 * angle_x)
        fy = fx
        if "camera_angle_y" in meta:
            height = read_rgba(resolve_image_path(image_paths[0])).shape[0]
            fy = 0.5 * height / math.tan(0.5 * float(meta["camera_angle_y"]))
        splits[split] = build_split(image_paths, poses, [(fx, fy, None, None)] * len(frames), metadata=frame_metadata(frames, path))
    return SceneData(splits=splits, source=folder, data_format="blender")
