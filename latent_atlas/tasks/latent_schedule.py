"""Settings of training in a latent space (the latent-nerfstudio schedule of DESIGN.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

from latent_atlas.engine.precision import DecoderPrecision
from latent_atlas.losses.pixel import ChannelWeighting

DecoderPart = Literal["all", "head"]


@dataclass
class LatentTrainingConfig:
    """Phases of latent training: latent loss only, then the decoded-RGB loss with the decoder fine-tuned."""

    decoder_start: float = 0.4
    """Fraction of the run after which the decoded loss is added (latent-nerfstudio: step 10k of 25k)."""
    loss_d_weight: float = 10.0
    """Weight of loss_d = |D(render) - image|^2 on one full decoded training view per step (latent-nerfstudio: 0.01,
    which leaves the field to the latent loss; 10 lets the decoded views lead: +0.3-0.7 dB decoded at 120 s in five
    side-by-side runs, BENCHMARKS.md session 30)."""
    decoded_crop: int = 0
    """Latent pixels per side of the square of that view rendered and decoded per step, at a random place (0: the
    whole view; a crop of half the side costs a quarter of the view's rendering and decoding)."""
    finetune_decoder: bool = True
    """Train the decoder during the decoded phase (the encoder is never trained)."""
    decoder_part: DecoderPart = "all"
    """Which decoder parameters the decoded phase trains: all, or head: its last up block and output layers (the
    built-in architecture's, not a diffusers autoencoder's). head makes 1.5x the decoded steps on a CPU: ahead at 60 s,
    level or behind at 120 s on objects128 (BENCHMARKS.md, session 36)."""
    decoded_field_gradient: bool = True
    """loss_d trains the field too. Off: the field learns from the latent loss alone and the decoded views train only
    the decoder (rendered without autograd; with decoder_part head its trunk also runs without it: half the decoder's
    cost). Off lost 0.4-0.9 dB decoded at 120 s on objects128/bunny, triplane (BENCHMARKS.md, session 36)."""
    decoder_lr: float = 1e-4
    """Adam learning rate of the decoder at the start of the decoded phase."""
    decoder_lr_final: float = 1e-5
    """Decoder learning rate at the end of the run (exponential decay)."""
    held_out_share: float = 0.0
    """Share of the training views the field never fits (evenly spaced; 0: none): every other decoded-phase step decodes
    a render of one of them, detached from the field, so that the decoder learns the errors of unseen views (0.1 with
    loss_d_weight 10: +0.9-1.1 dB decoded at 120 s on objects128, a loss in make demo's 60-view 64-px scene; session 30)."""
    channel_weights: ChannelWeighting = "uniform"
    """How the latent loss weighs the channels: uniform, or decoder: each channel by how much the decoded image moves
    per unit of it (measured once at the start on four training views; normalised to mean 1), so that the field
    spends itself on the channels the decoder reads."""
    channel_weight_floor: float = 0.01
    """With channel_weights decoder: the least weight of a channel, relative to the mean weight."""
    decoder_precision: DecoderPrecision = "fp32"
    """Precision of the decoder in the decoded phase: bf16 runs it under bf16 autocast (loss_d stays fp32), refused on a
    CPU without bf16 units (AVX512-BF16 or AMX); auto: bf16 where the device has them, else fp32. On a CPU the decoder
    is a small share of a single-scene step: +7% steps, same PSNR (BENCHMARKS.md, session 27)."""
    cache_dir: Optional[Path] = None
    """Where encoded images are cached (default: $LATLAS_CACHE_DIR or ~/.cache/latent-atlas/latents)."""
    encode_batch: int = 8
    """Images encoded at once."""
