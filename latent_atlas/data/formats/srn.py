"""ShapeNet-SRN scene folders: rgb/*.png, pose/*.txt (camera-to-world, OpenCV axes), intrinsics.txt."""

from __future__ import annotations

from pathlib import Path

import torch

from latent_atlas.cameras import OPENCV_TO_OPENGL
from latent_atlas.data.formats.common import build_split, holdout_indices
from latent_atlas.data.images import IMAGE_EXTENSIONS
from latent_atlas.data.scene import SceneData
from latent_atlas.errors import DataError


def is_srn(folder: Path) -> bool:
    return (folder / "rgb").is_dir() and (folder / "pose").is_dir() and (folder / "intrinsics.txt").is_file()


def _read_intrinsics(path: Path) -> tuple[float, float, float, int | None, int | None]:
    """(f, cx, cy, height, width) from intrinsics.txt: line 1 'f cx cy 0', line 4 'H W'."""
    try:
        lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
        f, cx, cy = (float(v) for v in lines[0][:3])
        height = width = None
        if len(lines) >= 4 and len(lines[3]) >= 2:
            height, width = int(float(lines[3][0])), int(float(lines[3][1]))
    except (IndexError, ValueError):
        raise DataError(path, "expected 'f cx cy 0' on the first line and 'H W' on the fourth") from None
    return f, cx, cy, height, width


def _read_pose(path: Path) -> torch.Tensor:
    try:
        values = [float(v) for v in path.read_text().split()]
    except ValueError:
        raise DataError(path, "pose is not a list of numbers") from None
    if len(values) != 16:
        raise DataError(path, f"pose must be a 4x4 matrix (16 numbers), got {len(values)} numbers")
    return torch.tensor(values, dtype=torch.float32).reshape(4, 4) @ OPENCV_TO_OPENGL


def parse_srn(folder: Path) -> SceneData:
    """Parses one SRN object folder; every 10th view is held out for val/test."""
    if not is_srn(folder):
        raise DataError(folder, "not an SRN scene (needs rgb/, pose/ and intrinsics.txt)")
    f, cx, cy, height, width = _read_intrinsics(folder / "intrinsics.txt")
    images = sorted(p for p in (folder / "rgb").iterdir() if p.suffix in IMAGE_EXTENSIONS)
    if not images:
        raise DataError(folder / "rgb", "no images")
    poses = []
    for image in images:
        pose_path = folder / "pose" / f"{image.stem}.txt"
        if not pose_path.is_file():
            raise DataError(pose_path, "pose file not found")
        poses.append(_read_pose(pose_path))
    train, held = holdout_indices(len(images))
    splits = {}
    for split, idx in (("train", train), ("val", held), ("test", held)):
        if idx:
            splits[split] = build_split([images[i] for i in idx], [poses[i] for i in idx], [(f, f, cx, cy)] * len(idx))
    # intrinsics.txt may describe a different resolution than the stored images
    actual_w = splits["train"].width
    if width and width != actual_w:
        scale = actual_w / width
        for split in splits.values():
            cams = split.cameras
            cams.fx, cams.fy, cams.cx, cams.cy = cams.fx * scale, cams.fy * scale, cams.cx * scale, cams.cy * scale
    return SceneData(splits=splits, source=folder, data_format="srn")
