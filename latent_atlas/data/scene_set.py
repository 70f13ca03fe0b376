"""Many scenes at once: a family folder (dataset_map.json), a folder of scenes, or a list of scene folders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from latent_atlas.data.json_io import read_json
from latent_atlas.data.loading import find_scene_folders, load_scene
from latent_atlas.data.scene import SceneData
from latent_atlas.data.validation import inside_folder
from latent_atlas.errors import DataError


@dataclass
class SceneSet:
    """Scenes in a fixed order (scene id = position), each with its own splits and cameras."""

    scenes: list[SceneData]
    names: list[str]

    def __len__(self) -> int:
        return len(self.scenes)


def family_scene_folders(root: Path) -> list[Path]:
    """The scene folders a dataset_map.json lists ({"family": ["scene_000", ...]}), in its order."""
    path = root / "dataset_map.json"
    mapping = read_json(path)
    if not isinstance(mapping, dict) or not all(isinstance(v, list) and all(isinstance(n, str) for n in v) for v in mapping.values()):
        raise DataError(path, 'expected {"family": ["scene folder", ...]}')
    folders = [inside_folder(root, name, path, f"family '{family}'") for family, names in mapping.items() for name in names]
    for folder in folders:
        if not folder.is_dir():
            raise DataError(path, f"lists '{folder.name}', which is not a folder beside it")
    return folders


def scene_folders(paths: list[Path] | tuple[Path, ...]) -> list[Path]:
    """Every scene folder named by `paths` (families through dataset_map.json, else found below), in order."""
    folders: list[Path] = []
    for root in paths:
        root = Path(root)
        folders += family_scene_folders(root) if (root / "dataset_map.json").is_file() else find_scene_folders(root)
    return folders


def load_scene_set(
    paths: list[Path] | tuple[Path, ...], first: int = 0, count: int | None = None, on_load: Callable[[SceneData], None] | None = None
) -> SceneSet:
    """Loads scenes [first, first + count) of the folders named by `paths`, calling `on_load(scene)` on each before
    the next is read (e.g. to encode it and move its views to disk, so that all views are never in memory at once)."""
    folders = scene_folders(paths)
    chosen = folders[first : None if count is None else first + count]
    if not chosen:
        raise DataError(Path(paths[0]) if paths else Path("."), f"no scenes in range [{first}, {first + (count or 0)}) (found {len(folders)})")
    scenes = []
    for folder in chosen:
        scenes.append(load_scene(folder))
        if on_load is not None:
            on_load(scenes[-1])
    return SceneSet(scenes, [f.name for f in chosen])
