"""Run logs: metrics.jsonl (one JSON object per entry) and TensorBoard events."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch


class RunLogger:
    """Appends scalars to metrics.jsonl and TensorBoard; images go to TensorBoard."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / "metrics.jsonl"
        self._writer = None
        self._run_dir = run_dir

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

    def image(self, tag: str, image: torch.Tensor, step: int) -> None:
        """image: [H, W, 3] in [0, 1]."""
        self.writer.add_image(tag, image.clamp(0, 1).permute(2, 0, 1), step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
