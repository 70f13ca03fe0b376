"""Configuration of multi-scene runs: the scenes, the space, the planes and the training phases."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field  # the config has an attribute named `field`
from pathlib import Path
from typing import Literal, Optional

from latent_atlas.data.scene import TargetPrecision
from latent_atlas.engine.config import RunConfig
from latent_atlas.engine.precision import DecoderPrecision
from latent_atlas.fields.multi_triplane import MicroMacroConfig
from latent_atlas.fields.triplane_field import TriPlaneFieldConfig
from latent_atlas.losses.pixel import ChannelWeighting
from latent_atlas.methods.base import OptimizerConfig
from latent_atlas.spaces.building import SpaceName
from latent_atlas.tasks.latent_schedule import DecoderPart


@dataclass
class PhaseConfig:
    """One phase: how long, which losses with which weights, which parts train."""

    name: str = "latent"
    """Shown in logs and checkpoints."""
    epochs: float = 1.0
    """Length in epochs (an epoch shows every training view of every scene once)."""
    loss_e: float = 1.0
    """Weight of |render - norm(E(x))|^2 (in RGB space: |render - x|^2)."""
    loss_d: float = 0.0
    """Weight of |D(denorm(render)) - x|^2 (images in [-1, 1])."""
    loss_ae: float = 0.0
    """Weight of |D(E(x)) - x|^2 (keeps the autoencoder an autoencoder)."""
    tv: float = 0.0
    """Weight of total variation on the rendered scenes' planes."""
    train_encoder: bool = False
    """Update the autoencoder's encoder."""
    train_decoder: bool = False
    """Update the autoencoder's decoder."""
    train_scenes: bool = True
    """Update per-scene parameters (planes, or micro planes + coefficients + bias)."""
    train_shared: bool = True
    """Update the shared Tri-Plane decoder MLP."""
    train_macro: bool = True
    """Update the shared macro planes (micro-macro planes only)."""


@dataclass
class MultiSceneConfig(RunConfig):
    """A multi-scene Tri-Plane run (IG-AE, Scaled-IG stage 1 or 2, or plain independent Tri-Planes)."""

    data: tuple[Path, ...] = ()
    """Family folders (dataset_map.json), folders of scenes, or scene folders."""
    first_scene: int = 0
    """Index of the first scene used (e.g. stage 2 starts after stage 1's scenes)."""
    num_scenes: Optional[int] = None
    """How many scenes (default: all from first_scene on)."""
    space: SpaceName = "latent"
    """rgb, or latent (the autoencoder of --ae, or a fresh --ae-preset one)."""
    ae: Optional[str] = None
    """Autoencoder (any --ae value: run folder, diffusers folder, weights file, built-in name, preset with weights,
    hub id; default: the built-in latlas-f4c16-slim-igae)."""
    ae_preset: Optional[str] = None
    """Start from a randomly initialised autoencoder of this preset instead of --ae (tests, ablations)."""
    planes: Literal["independent", "micro-macro"] = "independent"
    """independent (one [3, C, R, R] per scene) or micro-macro."""
    field: TriPlaneFieldConfig = dataclass_field(default_factory=TriPlaneFieldConfig)
    """Plane size and the shared decoder MLP."""
    micro_macro: MicroMacroConfig = dataclass_field(default_factory=MicroMacroConfig)
    """Micro-macro planes (planes=micro-macro)."""
    init: Optional[Path] = None
    """A previous multi-scene run whose shared parts (decoder MLP, macro planes, autoencoder) are loaded."""
    reinit_decoder_mlp: bool = False
    """Re-initialise the Tri-Plane decoder MLP after --init (Scaled-IG stage 2)."""
    phases: tuple[PhaseConfig, ...] = (PhaseConfig(),)
    """Training phases, in order."""
    scenes_per_batch: int = 4
    """Scenes rendered per step (one random training view each, batched through one grid_sample)."""
    parallel: Literal["data", "scenes"] = "data"
    """With several processes (torchrun): data (every rank holds every scene and renders a slice of each
    batch) or scenes (each rank owns a contiguous shard of the scenes with their planes and optimiser state,
    draws --scenes-per-batch scenes from it per step, and only the shared parts are averaged: memory per rank
    falls with the number of ranks). Resuming a scenes-parallel run needs the same number of ranks."""
    rays_per_view: int = 0
    """Rays drawn from each view per step in phases without loss_d (0, or at least the view's pixels: the whole
    image); a phase with loss_d renders whole views or --decoded-crop squares, which it decodes."""
    decoded_crop: int = 0
    """Latent pixels per side of the square a phase with loss_d renders and decodes from each view per step, at a
    random place (0: the whole view). A crop of half the side costs a quarter of a whole view's rendering and
    decoding; the autoencoders are trained on crops, so they decode one as they decode the view."""
    decoder_precision: DecoderPrecision = "fp32"
    """Precision of the autoencoder's decoder in phases with loss_d or loss_ae: bf16 runs it under bf16 autocast
    (the loss stays fp32). On a CPU with bf16 units (AVX512-BF16 or AMX) the decoder runs 1.7-2x faster and stage 2
    takes 0.77-0.92x its fp32 time at the same PSNR (BENCHMARKS.md, sessions 26 and 50); refused on a CPU without them.
    auto (scale-stage2-cpu's choice): bf16 where the device has bf16 units, else fp32."""
    decoder_part: DecoderPart = "all"
    """What phases with train_decoder update: the whole decoder, or head: its last up block and output layers (the
    built-in architecture's); the trunk's weights then stay as they are and their gradients are never computed (the
    gradient still flows through the trunk to the renders). head costs less but learns less: stage 2 at 256 scenes,
    4 + 2 epochs, 24.99 dB decoded against 26.61 with all, in 0.93x the time (BENCHMARKS.md, session 52)."""
    channel_weights: ChannelWeighting = "uniform"
    """How loss_e weighs the latent channels: uniform, or decoder: each channel by how much the decoded image moves
    per unit of it (measured once at the start on one training view of each of up to four scenes; mean 1)."""
    channel_weight_floor: float = 0.01
    """With channel_weights decoder: the least weight of a channel, relative to the mean weight."""
    target_precision: TargetPrecision = "fp16"
    """How latent targets are held in memory: fp16 halves them (at 256 scenes of 27 views of 32 x 32 x 16 latents,
    459 of the run's MiB become 229; values rounded to 11 significant bits, read back as fp32), fp32 as encoded."""
    views: Literal["memory", "disk"] = "memory"
    """Where the scenes' views are held while training: memory, or disk: each scene's RGB images (and, in a latent
    space, its latents) are written to an unlinked temporary file under --output-dir as the scene is loaded, and each
    step reads back the one view per scene it renders (preadv, from the page cache). Memory per scene is then mostly
    the scene's parameters and optimiser state (stage 2: 0.20 MiB live per scene, 0.14 of it parameters + Adam,
    against 2.8 MiB with the views in memory; the same results bit for bit; BENCHMARKS.md, session 51)."""
    n_samples: int = 48
    """Stratified samples per ray."""
    n_importance: int = 48
    """Importance samples per ray."""
    perturb: bool = True
    """Jitter samples during training (off: deterministic, e.g. to compare multi-process runs)."""
    scene_optimizer: Literal["adam", "row-adam", "lazy-adam"] = "lazy-adam"
    """Optimiser of the per-scene tables. lazy-adam: torch's Adam's result (to rounding) at a cost independent of the
    number of scenes: a scene's moves between its visits (its momentum) are summed in closed form when it is next
    rendered, evaluated or checkpointed (256 scenes: RGB Tri-Planes 2.3x and stage 2 1.8x faster than adam at the
    same PSNR, BENCHMARKS.md, session 28). adam: torch's Adam over every scene at every step (O(N) per step).
    row-adam: only the batch's scenes are updated, each with its own step count (no moves between visits: less
    learned per epoch)."""
    scene_lr: OptimizerConfig = dataclass_field(default_factory=lambda: OptimizerConfig(lr=1e-2, lr_final=1e-3))
    """Per-scene planes / micro planes."""
    coefficient_lr: OptimizerConfig = dataclass_field(default_factory=lambda: OptimizerConfig(lr=1e-2, lr_final=1e-3))
    """Micro-macro coefficients and bias."""
    shared_lr: OptimizerConfig = dataclass_field(default_factory=lambda: OptimizerConfig(lr=1e-3, lr_final=1e-4))
    """Tri-Plane decoder MLP and macro planes."""
    ae_lr: OptimizerConfig = dataclass_field(default_factory=lambda: OptimizerConfig(lr=1e-4, lr_final=1e-5))
    """Encoder and decoder of the autoencoder, when a phase trains them."""
    background: Literal["white", "black"] = "white"
    """Colour transparent pixels are composited on (white or black)."""
    eval_views: int = 2
    """Test views per scene scored at the end."""
    eval_every: int = 0
    """Steps between evaluations of every scene (0: only at the end)."""
    checkpoint_every: int = 0
    """Steps between checkpoints (0: every --checkpoint-every-seconds)."""
    kind: str = "multi-triplane"
    """Run kind in the output path (igae, scale-stage1, scale-stage2, ...)."""
