"""The configuration of one training run: a method plus where, how long and on what."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, Optional

import tyro

from latent_atlas.data.formats import FormatName
from latent_atlas.engine.config import RunConfig
from latent_atlas.methods.base import MethodConfig
from latent_atlas.methods.upsampling_model import NeuralUpsamplingConfig
from latent_atlas.spaces.building import SpaceName
from latent_atlas.tasks.latent_schedule import LatentTrainingConfig

Background = Literal["random", "white", "black", "learned"]
"""--background choices."""


@dataclass
class TrainConfig(RunConfig):
    """`latlas train METHOD`: train one scene with a method of the registry."""

    method_name: tyro.conf.Suppress[str] = "vanilla-nerf"
    """Registry name of the method (set by the subcommand)."""
    method: Annotated[MethodConfig, tyro.conf.arg(name="")] = field(default_factory=MethodConfig)
    """The method: model, optimisers, losses and schedule."""
    data: Optional[Path] = None
    """Scene folder to train on (required)."""
    data_format: FormatName = "auto"
    """Scene layout (auto: detected from the files)."""
    background: Background = "random"
    """Background that alpha is composited on: random (a colour per ray each step, evaluated on white; stops a
    model from faking colours with dark, semi-transparent density over a fixed background), white, black, or learned
    (a small MLP on the ray direction trained with the field, for surroundings; alpha images are composited on
    white for it, and it is evaluated as it renders)."""
    upsampling: NeuralUpsamplingConfig = field(default_factory=NeuralUpsamplingConfig)
    """Neural upsampling (any method): render features at 1/--upsampling.factor size, upsample with a CNN."""
    space: SpaceName = "rgb"
    """Where the field learns: rgb, or latent (the normalised latents of --ae; images composited on the
    evaluation background, white for random, before encoding)."""
    ae: Optional[str] = None
    """Autoencoder of --space latent (default: the built-in latlas-f4c16-slim-igae, shipped with the package): a `latlas
    ae train` run folder, a diffusers folder, a .safetensors/.ckpt file, a built-in name (latlas-f4c16-slim-igae,
    latlas-f4c16-slim, latlas-f4c16-pooled-igae, latlas-f4c16-pooled, latlas-f8c16-igae), a published preset (stable-diffusion, ostris) or a hub id (downloaded when online)."""
    latent: LatentTrainingConfig = field(default_factory=LatentTrainingConfig)
    """Latent-space schedule: decoded loss, decoder fine-tuning, latent cache."""
    auto_scale_poses: bool = False
    """nerfstudio/opencv layouts: centre the poses on their focus point and scale cameras into the unit box."""
    eval_images: int = 2
    """Held-out views rendered at each periodic evaluation."""
    mixed_precision: Literal["auto", "off", "bf16", "fp16"] = "auto"
    """Autocast of the model's forward pass: auto (bf16 on CUDA where the method measured it worthwhile, off on CPU),
    off, bf16, or fp16 (with loss scaling)."""
    backend: Literal["auto", "reference", "compiled"] = "auto"
    """Fast paths: auto (the compiled hash grid on CUDA, reference PyTorch elsewhere), reference or compiled (all fast paths)."""
