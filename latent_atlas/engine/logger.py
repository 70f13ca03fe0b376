"""Run logs: metrics.jsonl (one JSON object per entry), TensorBoard events, and wandb when enabled."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch


class RunLogger:
    """Appends scalars to metrics.jsonl and TensorBoard; images go to TensorBoard; both to wandb if enabled."""

    def __init__(self, run_dir: Path, use_wandb: bool = False, config: dict | None = None):
        self.path = run_dir / "metrics.jsonl"
        self._writer = None
        self._run_dir = run_dir
        self._wandb = None
        if use_wandb:
            try:
                import wandb
            except ImportError:
                print("latlas: warning: --wandb given but wandb is not installed (pip install wandb); logging to TensorBoard only", file=sys.stderr)
            else:
                wandb.init(project="latent-atlas", dir=str(run_dir), name=str(run_dir), id=run_dir.name.replace(".", "-"), resume="allow", config=config or {})
                self._wandb = wandb

    @property
    def writer(self):
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter  # imported lazily: slow import

            self._writer = SummaryWriter(log_dir=str(self._run_dir))
        return self._writer

    def scalars(self, step: int, values: dict[str, float]) -> None:
        clean = {k: (float(v) if math.isfinite(float(v)) else None) for k, v in values.items()}
        with self.path.open("a") as f:
            f.write(json.dumps({"step": step, **clean}) + "\n")
        for key, value in clean.items():
            if value is not None:
                self.writer.add_scalar(key, value, step)
        if self._wandb is not None:
            self._wandb.log({k: v for k, v in clean.items() if v is not None}, step=step)

    def image(self, tag: str, image: torch.Tensor, step: int) -> None:
        """image: [H, W, 3] in [0, 1]."""
        self.writer.add_image(tag, image.clamp(0, 1).permute(2, 0, 1), step)
        if self._wandb is not None:
            self._wandb.log({tag: self._wandb.Image((image.clamp(0, 1) * 255).byte().cpu().numpy())}, step=step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._wandb is not None:
            self._wandb.finish()
