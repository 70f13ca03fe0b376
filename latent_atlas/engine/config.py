"""What every training command shares: where its run goes, how long it trains, how it checkpoints and logs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import tyro

Device = Literal["auto", "cpu", "cuda"]
"""--device choices: auto is cuda when available, else cpu."""


@dataclass
class RunConfig:
    """Budget, run folder, checkpoints and logging of a run; each task's config extends it (flat flags)."""

    output_dir: Path = Path("outputs")
    """Root of run folders: <output-dir>/<experiment>/<kind or method>/<timestamp>/."""
    experiment_name: Optional[str] = None
    """Experiment folder name (default: the data folder's name)."""
    max_time: Optional[float] = None
    """Stop after this many seconds of training (evaluation excluded); schedules follow whichever budget ends first."""
    seed: int = 0
    """Seed of initialisation and sampling."""
    device: Device = "auto"
    """cpu, cuda or auto (cuda when available)."""
    eval_every: int = 500
    """Steps between evaluations on held-out views (0: only at the end)."""
    checkpoint_every: int = 1000
    """Steps between checkpoints (0: by time only); also written at the end and on interrupt."""
    checkpoint_every_seconds: float = 300.0
    """A checkpoint is also written when this much time passed since the last one."""
    keep_checkpoints: int = 2
    """How many recent checkpoints to keep (those of --checkpoint-at-times are always kept)."""
    checkpoint_at_times: tuple[float, ...] = ()
    """Training times (seconds) at which to also keep a checkpoint, e.g. for a PSNR-vs-time curve."""
    log_every: int = 20
    """Steps between entries in metrics.jsonl and TensorBoard."""
    wandb: bool = False
    """Also log scalars and images to Weights & Biases (when installed; WANDB_MODE=offline is honoured)."""
    progress: bool = True
    """Show a progress bar."""
    viewer: bool = False
    """Open the live viewer (viser) while training; its URL is printed (needs the `viewer` extra)."""
    viewer_port: int = 7007
    """Port of the viewer's web page."""
    viewer_share: float = 0.3
    """Largest fraction of the time the viewer may spend rendering (the trainer keeps the rest)."""
    on_divergence: Literal["stop", "rollback"] = "stop"
    """When the loss turns NaN/Inf or training collapses: stop (exit 3), or roll back to the last good checkpoint
    and continue with half the learning rates (at most 3 times, then stop)."""
    detect_collapse: bool = True
    """Stop with exit 3 when training collapses: the loss is finite, but after 300 steps the model has been no
    better than a constant colour or an empty scene for 200 steps, or 1.5x worse than them for a fifth of the run
    (after a quarter of it), or 100x worse."""
    resume: Optional[Path] = None
    """Run folder to continue from its latest checkpoint (its saved config is used; flags given override it)."""
    timestamp: tyro.conf.Suppress[str] = ""
    """Run folder name (set when the run starts)."""
