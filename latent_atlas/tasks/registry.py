"""The tasks by name, and reloading any run folder's config (so that every command reaches every run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latent_atlas.config_io import update_from_dict
from latent_atlas.engine.run_dir import read_config, task_of
from latent_atlas.errors import ConfigError, DataError


def default_config(task: str, data: dict | None = None) -> Any:
    """A task's default config (a scene run's from its method's registry entry, named in `data`)."""
    if task == "scene":
        from latent_atlas.methods.registry import METHODS, method_config
        from latent_atlas.tasks.scene_config import TrainConfig

        name = (data or {}).get("method_name", "vanilla-nerf")
        if name not in METHODS:
            raise ConfigError(f"unknown method '{name}' (known: {', '.join(sorted(METHODS))})")
        return TrainConfig(method_name=name, method=method_config(name))
    if task == "multi-scene":
        from latent_atlas.scaled.config import MultiSceneConfig

        return MultiSceneConfig()
    if task == "autoencoder":
        from latent_atlas.tasks.autoencoder import AETrainConfig

        return AETrainConfig()
    raise ConfigError(f"unknown task '{task}'")


def task_class(task: str):
    """The Task class of a task name."""
    if task == "scene":
        from latent_atlas.tasks.scene import SceneTask

        return SceneTask
    if task == "multi-scene":
        from latent_atlas.tasks.multi_scene import MultiSceneTask

        return MultiSceneTask
    from latent_atlas.tasks.autoencoder import AETrainer

    return AETrainer


def load_run_config(run_dir: Path) -> tuple[str, Any]:
    """(task name, config) saved in a run folder."""
    data = read_config(run_dir)
    task = task_of(data)
    try:
        return task, update_from_dict(default_config(task, data), data)
    except (TypeError, ValueError, KeyError) as exc:
        raise DataError(Path(run_dir) / "config.json", f"does not fit a {task} run ({exc})") from None
