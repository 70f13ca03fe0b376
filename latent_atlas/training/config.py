"""The configuration of one training run: a method plus where, how long and on what."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Optional

import tyro

from latent_atlas.methods.base import MethodConfig
from latent_atlas.training.latent_config import LatentTrainingConfig


@dataclass
class TrainConfig:
    """`latlas train METHOD`: train one scene with a method of the registry."""

    method_name: tyro.conf.Suppress[str] = "vanilla-nerf"
    """Registry name of the method (set by the subcommand)."""
    method: Annotated[MethodConfig, tyro.conf.arg(name="")] = field(default_factory=MethodConfig)
    """The method: model, optimisers and schedule."""
    data: Optional[Path] = None
    """Scene folder to train on (required)."""
    data_format: str = "auto"
    """Scene layout: auto, blender, nerfstudio, opencv or srn."""
    background: str = "random"
    """Background that alpha is composited on: random (a colour per ray each step, evaluated on white; stops a
    model from faking colours with dark, semi-transparent density over a fixed background), white or black."""
    space: str = "rgb"
    """Where the field learns: rgb, or latent (the normalised latents of --ae; images composited on the
    evaluation background, white for random, before encoding)."""
    ae: Optional[str] = None
    """Autoencoder of --space latent: a `latlas ae train` run folder, a diffusers folder, a .safetensors/.ckpt
    file, a published preset (stable-diffusion, ostris) or a hub id (downloaded when online)."""
    latent: LatentTrainingConfig = field(default_factory=LatentTrainingConfig)
    """Latent-space schedule: decoded loss, decoder fine-tuning, latent cache."""
    auto_scale_poses: bool = False
    """nerfstudio/opencv layouts: centre the poses on their focus point and scale cameras into the unit box."""
    output_dir: Path = Path("outputs")
    """Root of run folders: <output-dir>/<experiment>/<method>/<timestamp>/."""
    experiment_name: Optional[str] = None
    """Experiment folder name (default: the scene folder's name)."""
    max_time: Optional[float] = None
    """Stop after this many seconds of training (evaluation excluded); the lr schedule follows it."""
    seed: int = 0
    """Seed of initialisation and ray sampling."""
    device: str = "cpu"
    """cpu, cuda or auto (cuda when available)."""
    mixed_precision: str = "auto"
    """Autocast of the model's forward pass: auto (bf16 on CUDA where the method measured it worthwhile, off on CPU),
    off, bf16, or fp16 (with loss scaling)."""
    backend: str = "auto"
    """Fast paths: auto (the compiled hash grid on CUDA, reference PyTorch elsewhere), reference or compiled (all fast paths)."""
    eval_every: int = 500
    """Steps between evaluations on held-out views."""
    eval_images: int = 2
    """Held-out views rendered at each periodic evaluation."""
    checkpoint_every: int = 1000
    """Steps between checkpoints (also written at the end and on interrupt)."""
    checkpoint_every_seconds: float = 300.0
    """A checkpoint is also written when this much time passed since the last one."""
    keep_checkpoints: int = 2
    """How many recent checkpoints to keep (those of --checkpoint-at-times are always kept)."""
    checkpoint_at_times: tuple[float, ...] = ()
    """Training times (seconds) at which to also keep a checkpoint, e.g. for a PSNR-vs-time curve."""
    log_every: int = 20
    """Steps between entries in metrics.jsonl and TensorBoard."""
    wandb: bool = False
    """Also log scalars and images to Weights & Biases (when wandb is installed)."""
    progress: bool = True
    """Show a progress bar."""
    resume: Optional[Path] = None
    """Run folder of a killed run to continue (its saved config is used; flags given here override it)."""
    timestamp: tyro.conf.Suppress[str] = ""
    """Run folder name (set when the run starts)."""
