"""ShapeNet-SRN scene folders: rgb/*.png, pose/*.txt (camera-to-world, OpenCV axes), intrinsics.txt."""

from __future__ import annotations

from pathlib import Path

import torch

from latent_atlas.cameras import OPENCV_TO_OPENGL
from latent_atlas.data.formats.common import build_split, holdout_indices
from latent_atlas.data.images import IMAGE_EXTENSIONS, read_rgba
from latent_atlas.data.scene import SceneData
from latent_atlas.data.validation import check_pose, positive_number
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
    except (IndexError, ValueError, OverflowError):
        raise DataError(path, "expected 'f cx cy 0' on the first line and 'H W' on the fourth") from None
    except UnicodeDecodeError:
        raise DataError(path, "not a text file") from None
    positive_number(f, path, "f")
    if (height is not None and height <= 0) or (width is not None and width <= 0):
        raise DataError(path, f"image size on the fourth line must be positive, got H={height} W={width}")
    return f, cx, cy, height, width


def _read_pose(path: Path) -> torch.Tensor:
    try:
        values = [float(v) for v in path.read_text().split()]
    except (ValueError, UnicodeDecodeError):
        raise DataError(path, "pose is not a list of numbers") from None
    if len(values) != 16:
        raise DataError(path, f"pose must be a 4x4 matrix (16 numbers), got {len(values)} numbers")
    return check_pose(torch.tensor(values, dtype=torch.float64).reshape(4, 4), path, "pose") @ OPENCV_TO_OPENGL


def parse_srn(folder: Path) -> SceneData:
    """Parses one SRN object folder; every 10th view is held out for val/test."""
    if not is_srn(folder):
        raise DataError(folder, "not an SRN scene (needs rgb/, pose/ and intrinsics.txt)")
    intrinsics = folder / "intrinsics.txt"
    f, cx, cy, height, width = _read_intrinsics(intrinsics)
    images = sorted(p for p in (folder / "rgb").iterdir() if p.suffix in IMAGE_EXTENSIONS)
    if not images:
        raise DataError(folder / "rgb", "no images")
    poses = []
    for image in images:
        pose_path = folder / "pose" / f"{image.stem}.txt"
        if not pose_path.is_file():
            raise DataError(pose_path, "pose file not found")
        poses.append(_read_pose(pose_path))
    # intrinsics.txt may describe a different resolution than the stored images
    scale = read_rgba(images[0]).shape[1] / width if width else 1.0
    train, held = holdout_indices(len(images))
    splits = {}
    for split, idx in (("train", train), ("val", held), ("test", held)):
        if idx:
            splits[split] = build_split(
                [images[i] for i in idx], [poses[i] for i in idx], [(f * scale, f * scale, cx * scale, cy * scale)] * len(idx), source=intrinsics
            )
    return SceneData(splits=splits, source=folder, data_format="srn")
