"""Loading a trained run (config, scene, model at its latest checkpoint) for eval and render."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


from latent_atlas.data.loading import load_scene
from latent_atlas.data.scene import SceneData
from latent_atlas.errors import DataError
from latent_atlas.methods.base import Model
from latent_atlas.training.checkpoints import latest_checkpoint, load_checkpoint
from latent_atlas.training.config import TrainConfig
from latent_atlas.training.run_dir import load_config
from latent_atlas.training.trainer import build_model, load_model_state, resolve_device


@dataclass
class TrainedRun:
    """A run folder's config, its scene, the model at a checkpoint and that checkpoint's path."""

    run_dir: Path
    config: TrainConfig
    scene: SceneData
    model: Model
    checkpoint: Path
    step: int


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
    scene = load_scene(config.data, config.data_format, config.auto_scale_poses)
    model = build_model(config, scene, dev)
    tensors, state = load_checkpoint(checkpoint, dev)
    load_model_state(model, tensors)
    model.eval()
    return TrainedRun(run_dir, config, scene, model, checkpoint.with_suffix(".safetensors"), int(state["step"]))
