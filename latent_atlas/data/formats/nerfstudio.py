"""nerfstudio `transforms.json` (OpenGL axes) and `transforms_opencv.json` (same keys, OpenCV axes)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from latent_atlas.cameras import OPENCV_TO_OPENGL
from latent_atlas.data.formats.common import build_split, frame_metadata, holdout_indices
from latent_atlas.data.json_io import pose_matrix, read_json, require
from latent_atlas.data.scene import SceneData
from latent_atlas.data.validation import finite_number, inside_folder, positive_number
from latent_atlas.errors import DataError

DISTORTION_KEYS = ("k1", "k2", "k3", "k4", "p1", "p2")


def _normalise_name(name: str) -> str:
    return name[2:] if name.startswith("./") else name


def _frame_intrinsics(meta: dict, frame: dict, path: Path, where: str) -> tuple[float, float, float | None, float | None]:
    """(fx, fy, cx, cy) of a frame: per-frame keys override the global ones."""

    def get(key: str):
        return frame.get(key, meta.get(key))

    if get("fl_x") is None:
        raise DataError(path, f"missing key 'fl_x' (global or in {where})")
    fx = positive_number(get("fl_x"), path, "fl_x", where)
    fy = positive_number(get("fl_y"), path, "fl_y", where) if get("fl_y") is not None else fx
    for key in DISTORTION_KEYS:
        value = get(key)
        if value is not None and abs(finite_number(value, path, key, where)) > 1e-8:
            raise DataError(path, f"lens distortion ({key}={value}) is not supported: undistort the images first")
    cx, cy = get("cx"), get("cy")
    return fx, fy, None if cx is None else finite_number(cx, path, "cx", where), None if cy is None else finite_number(cy, path, "cy", where)


def _focus_point(camera_to_worlds: Tensor) -> Tensor:
    """The point nearest to every camera's optical axis (least squares): [3]."""
    origins = camera_to_worlds[:, :3, 3].double()
    axes = -camera_to_worlds[:, :3, 2].double()
    axes = axes / axes.norm(dim=-1, keepdim=True)
    projector = torch.eye(3, dtype=torch.float64) - axes[:, :, None] * axes[:, None, :]
    a = projector.sum(0)
    b = (projector @ origins[:, :, None]).sum(0)[:, 0]
    if torch.linalg.cond(a) > 1e6:  # near-parallel axes (forward-facing capture)
        return origins.mean(0).float()
    return torch.linalg.solve(a, b).float()


def auto_scale(poses: list[Tensor]) -> list[Tensor]:
    """Centres the poses on their focus point and scales camera positions into the unit box."""
    stacked = torch.stack(poses)
    center = _focus_point(stacked)
    stacked = stacked.clone()
    stacked[:, :3, 3] -= center
    scale = 1.0 / stacked[:, :3, 3].abs().max().clamp_min(1e-8)
    stacked[:, :3, 3] *= scale
    return list(stacked)


def parse_nerfstudio(folder: Path, filename: str = "transforms.json", opencv_axes: bool = False, auto_scale_poses: bool = False) -> SceneData:
    """Parses a nerfstudio-style scene: global or per-frame intrinsics, named splits or a 90/10 split."""
    path = folder / filename
    meta = read_json(path)
    frames = require(meta, "frames", path)
    if not isinstance(frames, list) or not frames:
        raise DataError(path, "'frames' must be a non-empty list")
    names, poses, intrinsics, sizes = [], [], [], []
    for i, frame in enumerate(frames):
        where = f"frame {i}"
        file_path = require(frame, "file_path", path, f" in {where}")
        inside_folder(folder, file_path, path, where)
        names.append(_normalise_name(file_path))
        pose = pose_matrix(require(frame, "transform_matrix", path, f" in {where}"), path, where)
        poses.append(pose @ OPENCV_TO_OPENGL if opencv_axes else pose)
        intrinsics.append(_frame_intrinsics(meta, frame, path, where))
        sizes.append((frame.get("w", meta.get("w")), frame.get("h", meta.get("h"))))
    if auto_scale_poses:
        poses = auto_scale(poses)

    split_indices: dict[str, list[int]] = {}
    if "train_filenames" in meta:
        index_of = {name: i for i, name in enumerate(names)}
        for split in ("train", "val", "test"):
            listed = meta.get(f"{split}_filenames", [])
            if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
                raise DataError(path, f"{split}_filenames must be a list of file names")
            missing = [n for n in listed if _normalise_name(n) not in index_of]
            if missing:
                raise DataError(path, f"{split}_filenames names '{missing[0]}', which is not among the frames")
            if listed:
                split_indices[split] = [index_of[_normalise_name(n)] for n in listed]
    else:
        train, held = holdout_indices(len(frames))
        split_indices = {"train": train, "val": held, "test": held}

    splits = {
        split: build_split(
            [folder / names[i] for i in idx],
            [poses[i] for i in idx],
            [intrinsics[i] for i in idx],
            [sizes[i] for i in idx],
            path,
            frame_metadata([frames[i] for i in idx], path),
        )
        for split, idx in split_indices.items()
        if idx
    }
    return SceneData(splits=splits, source=folder, data_format="opencv" if opencv_axes else "nerfstudio")
