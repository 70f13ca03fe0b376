"""Loading a trained run (one scene or many) at a checkpoint, for eval and render: its scenes, space and a renderer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from latent_atlas.cameras import Cameras
from latent_atlas.data.scene import SceneData
from latent_atlas.engine.checkpoints import load_checkpoint, load_latest, tensors_under
from latent_atlas.engine.device import resolve_device
from latent_atlas.errors import ConfigError, DataError
from latent_atlas.evaluation.render_views import FrameMetadata, render_image
from latent_atlas.methods.base import Model
from latent_atlas.spaces.image_space import ImageSpace
from latent_atlas.tasks.registry import load_run_config

Renderer = Callable[..., dict[str, Tensor]]
"""(scene index, cameras, camera index, metadata=None) -> {'color': [H, W, C], 'acc': [H, W, 1], 'depth': [H, W, 1]} in
the run's space; metadata: the frame's values, e.g. {'time': [1]} for dynamic scenes."""


@dataclass
class TrainedRun:
    """A run folder at a checkpoint: its config, scenes (in its space and in RGB), space and a renderer."""

    run_dir: Path
    task: str
    config: Any
    checkpoint: Path
    step: int
    space: ImageSpace
    scenes: list[SceneData]
    rgb_scenes: list[SceneData]
    names: list[str]
    rgb_background: Tensor
    """[3]: what views are composited on."""
    background_value: Tensor
    """[C]: that colour in the run's space."""
    render: Renderer
    model: Model | None = None
    """The model of a one-scene run (None for many-scene runs)."""

    @property
    def scene(self) -> SceneData:
        """The first (a one-scene run's only) scene, in the run's space."""
        return self.scenes[0]

    @property
    def rgb_scene(self) -> SceneData:
        return self.rgb_scenes[0]

    def scene_index(self, scene: int | str | None) -> int:
        """Index of a scene given by position or name (None: the first); ConfigError when there is none such."""
        if scene is None:
            return 0
        if isinstance(scene, str) and not scene.lstrip("-").isdigit():
            if scene not in self.names:
                raise ConfigError(f"--scene {scene}: not a scene of this run (has {', '.join(self.names[:8])}{' ...' if len(self.names) > 8 else ''})")
            return self.names.index(scene)
        index = int(scene)
        if not 0 <= index < len(self.scenes):
            raise ConfigError(f"--scene {index}: this run has {len(self.scenes)} scene(s) (0 to {len(self.scenes) - 1})")
        return index


def _checkpoint(run_dir: Path, checkpoint: Path | None, device: torch.device) -> tuple[Path, dict[str, Tensor], dict]:
    if checkpoint is None:
        found = load_latest(run_dir / "checkpoints", device)
        if found is None:
            raise DataError(run_dir / "checkpoints", "no complete checkpoint")
        return found
    checkpoint = Path(checkpoint).with_suffix(".json")
    if not checkpoint.is_file() or not checkpoint.with_suffix(".safetensors").is_file():
        raise DataError(checkpoint, "checkpoint not found (needs its .json and .safetensors)")
    return (checkpoint, *load_checkpoint(checkpoint, device))


def _load_scene_run(run_dir: Path, config, device: torch.device, checkpoint: Path | None) -> TrainedRun:
    from latent_atlas.tasks.scene import build_model, load_model_state, open_scene

    space, rgb_scene, background, scene = open_scene(config, device)
    model = build_model(config, scene, device)
    path, tensors, state = _checkpoint(run_dir, checkpoint, device)
    load_model_state(model, tensors)
    space.load_tensors(tensors_under(tensors, "space."))
    model.eval()
    value = space.background_value(background).to(device)

    def render(scene_index: int, cameras: Cameras, index: int, metadata: FrameMetadata | None = None) -> dict[str, Tensor]:
        return render_image(model, cameras, index, value, scene.box_min, scene.box_max, config.method.eval_chunk, metadata)

    return TrainedRun(
        run_dir,
        "scene",
        config,
        path.with_suffix(".safetensors"),
        int(state["step"]),
        space,
        [scene],
        [rgb_scene],
        [Path(config.data).name],
        background,
        value,
        render,
        model,
    )


def _load_multi_scene_run(run_dir: Path, config, device: torch.device, checkpoint: Path | None) -> TrainedRun:
    from latent_atlas.tasks.multi_scene import MultiSceneTask

    if checkpoint is not None:
        raise ConfigError("--checkpoint: many-scene runs are evaluated at their latest checkpoint")
    config.resume, config.progress, config.device = run_dir, False, str(device)
    task = MultiSceneTask(config, read_only=True)
    if task.restored_from is None:
        raise DataError(run_dir / "checkpoints", "no complete checkpoint")
    task.field.eval()
    return TrainedRun(
        run_dir,
        "multi-scene",
        config,
        task.restored_from.with_suffix(".safetensors"),
        task.step,
        task.space,
        task.scenes,
        task.rgb_set.scenes,
        task.rgb_set.names,
        task.rgb_background,
        task.background_value,
        task.render_cameras,
    )


def load_trained_run(run_dir: Path, device: str = "cpu", checkpoint: Path | None = None) -> TrainedRun:
    """Reloads a run folder (one scene or many) with the weights of `checkpoint` (default: its latest)."""
    run_dir = Path(run_dir)
    task, config = load_run_config(run_dir)
    dev = resolve_device(device)
    if task == "scene":
        return _load_scene_run(run_dir, config, dev, checkpoint)
    if task == "multi-scene":
        return _load_multi_scene_run(run_dir, config, dev, checkpoint)
    raise ConfigError(f"{run_dir} is an autoencoder run: use it as --ae {run_dir}")
