"""Picks the parser for a scene folder (`--data-format auto|blender|nerfstudio|opencv|srn`)."""

from __future__ import annotations

from pathlib import Path

from latent_atlas.data.formats import FORMATS, ParseOptions
from latent_atlas.data.scene import SceneData
from latent_atlas.errors import DataError

DATA_FORMATS = ("auto", *FORMATS)


def detect_format(folder: Path) -> str:
    """The format of a scene folder, from the files it holds (the first of FORMATS that recognises it)."""
    for name, fmt in FORMATS.items():
        if fmt.detect(folder):
            return name
    raise DataError(
        folder,
        "no known scene layout (expected transforms_train.json, transforms.json, transforms_opencv.json or rgb/+pose/+intrinsics.txt)",
    )


def load_scene(folder: str | Path, data_format: str = "auto", auto_scale_poses: bool = False) -> SceneData:
    """Parses the scene folder `folder` in `data_format` (see DATA_FORMATS)."""
    folder = Path(folder)
    if data_format not in DATA_FORMATS:
        raise DataError(folder, f"unknown data format '{data_format}' (choose from {', '.join(DATA_FORMATS)})")
    if not folder.exists():
        raise DataError(folder, "scene folder not found")
    if not folder.is_dir():
        raise DataError(folder, "not a folder")
    fmt = detect_format(folder) if data_format == "auto" else data_format
    scene = FORMATS[fmt].parse(folder, ParseOptions(auto_scale_poses=auto_scale_poses))
    if "train" not in scene.splits:
        raise DataError(folder, "no training views")
    return scene


def find_scene_folders(root: str | Path, max_depth: int = 3) -> list[Path]:
    """Scene folders at or below `root` (a scene, a family with dataset_map.json, or a tree of them), sorted."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "folder not found")
    try:
        detect_format(root)
        return [root]
    except DataError:
        pass
    found: list[Path] = []
    if max_depth > 0:
        for child in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            found += find_scene_folders(child, max_depth - 1) if _has_scene_below(child, max_depth - 1) else []
    if not found and max_depth == 3:
        raise DataError(root, "no scene folders found here or below")
    return found


def _has_scene_below(folder: Path, depth: int) -> bool:
    try:
        detect_format(folder)
        return True
    except DataError:
        return depth > 0 and any(_has_scene_below(c, depth - 1) for c in folder.iterdir() if c.is_dir())
