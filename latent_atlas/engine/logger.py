"""Run logs: metrics.jsonl (one JSON object per entry), TensorBoard events, and wandb when enabled."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch


def drop_entries_after(path: Path, step: int) -> None:
    """Rewrites metrics.jsonl without the entries after `step` (a resumed run logs those steps again) and
    without a last line cut short by a kill."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("step"), int) and entry["step"] <= step:
            kept.append(line)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(line + "\n" for line in kept))
    tmp.replace(path)


class RunLogger:
    """Appends scalars to metrics.jsonl and TensorBoard; images go to TensorBoard; both to wandb if enabled."""

    def __init__(self, run_dir: Path, use_wandb: bool = False, config: dict | None = None, from_step: int = 0):
        self.path = run_dir / "metrics.jsonl"
        if from_step > 0:
            drop_entries_after(self.path, from_step)
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
