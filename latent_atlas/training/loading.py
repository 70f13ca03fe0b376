"""Loading a trained run (config, scene, model at its latest checkpoint) for eval and render."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import Tensor


from latent_atlas.data.loading import load_scene
from latent_atlas.data.scene import SceneData
from latent_atlas.errors import DataError
from latent_atlas.methods.base import Model
from latent_atlas.spaces.image_space import ImageSpace
from latent_atlas.training.checkpoints import latest_checkpoint, load_checkpoint
from latent_atlas.training.config import TrainConfig
from latent_atlas.training.run_dir import load_config
from latent_atlas.training.space_setup import build_space, rgb_background
from latent_atlas.training.trainer import build_model, load_decoder_state, load_model_state, map_into_space, resolve_device


@dataclass
class TrainedRun:
    """A run folder's config, its scene (in its space and in RGB), the model at a checkpoint and that checkpoint's path."""

    run_dir: Path
    config: TrainConfig
    scene: SceneData
    model: Model
    checkpoint: Path
    step: int
    space: ImageSpace
    rgb_scene: SceneData
    rgb_background: Tensor
    """[3]: what views are composited on."""
    background_value: Tensor
    """[C]: that colour in the run's space."""


def load_trained_run(run_dir: Path, device: str = "cpu", checkpoint: Path | None = None) -> TrainedRun:
    """Reloads a run folder with the weights of `checkpoint` (default: its latest)."""
    run_dir = Path(run_dir)
    config = load_config(run_dir)
    if checkpoint is None:
        checkpoint = latest_checkpoint(run_dir / "checkpoints")
        if checkpoint is None:
            raise DataError(run_dir / "checkpoints", "no complete checkpoint")
    else:
        checkpoint = Path(checkpoint).with_suffix(".json")
        if not checkpoint.is_file() or not checkpoint.with_suffix(".safetensors").is_file():
            raise DataError(checkpoint, "checkpoint not found (needs its .json and .safetensors)")
    dev = resolve_device(device)
    space = build_space(config, dev)
    rgb_scene = load_scene(config.data, config.data_format, config.auto_scale_poses)
    background = rgb_background(config)
    scene = map_into_space(space, rgb_scene, background)
    model = build_model(config, scene, dev)
    tensors, state = load_checkpoint(checkpoint, dev)
    load_model_state(model, tensors)
    load_decoder_state(space, tensors)
    model.eval()
    return TrainedRun(run_dir, config, scene, model, checkpoint.with_suffix(".safetensors"), int(state["step"]), space, rgb_scene, background, space.background_value(background).to(dev))
