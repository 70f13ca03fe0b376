"""Hooks into the engine's loop: what later features (viewer, schedules, probes) attach to."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from latent_atlas.engine.task import Task


class Callback:
    """Override any of these; each receives the task being trained (its step, run folder, models)."""

    def on_start(self, task: Task) -> None:
        """Before the first step of this process (after a resume: at the restored step)."""

    def on_step(self, task: Task, scalars: dict[str, float]) -> None:
        """After every step, with the step's scalars (task.step is already the new step count)."""

    def on_eval(self, task: Task, metrics: dict[str, float]) -> None:
        """After each periodic evaluation."""

    def on_checkpoint(self, task: Task, path: Path | None) -> None:
        """After a checkpoint was written (path of its JSON; None on ranks that wrote none)."""

    def on_end(self, task: Task, summary: dict | None) -> None:
        """After the final checkpoint and summary (None on ranks that write no summary)."""
