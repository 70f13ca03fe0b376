"""The one training loop: budget, divergence guard, logging, progress, evaluation, checkpoints, callbacks."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from tqdm import tqdm

from latent_atlas.config_io import save_json_atomic, to_jsonable
from latent_atlas.engine.callbacks import Callback
from latent_atlas.engine.checkpoints import latest_checkpoint
from latent_atlas.engine.collapse import CollapseGuard
from latent_atlas.engine.device import live_memory_mb, peak_memory_mb
from latent_atlas.engine.interrupts import checkpoint_on_interrupt
from latent_atlas.engine.logger import RunLogger
from latent_atlas.engine.task import Task
from latent_atlas.errors import TrainingCollapsedError, TrainingDivergedError

MAX_ROLLBACKS = 3
"""--on-divergence rollback gives up (exit 3) after this many rollbacks in one run."""


def check_finite(task: Task, scalars: dict[str, float]) -> None:
    """Raises TrainingDivergedError when the step's loss is NaN or Inf (naming its terms and the checkpoint to resume)."""
    loss = scalars.get("loss", 0.0)
    if math.isfinite(loss):
        return
    terms = ", ".join(f"{k}={v:.4g}" for k, v in scalars.items() if k.startswith("loss_"))
    raise TrainingDivergedError(f"loss is {loss} at step {task.step}" + (f" ({terms})" if terms else "") + f"; {task.last_good_checkpoint()}")


class Engine:
    """Trains a task until its step budget or --max-time ends; checkpoints periodically, at set times, on
    interrupt (SIGTERM, Ctrl-C) and at the end; writes RUN/summary.json."""

    def __init__(self, task: Task, callbacks: tuple[Callback, ...] | list[Callback] = ()):
        self.task = task
        self.callbacks = list(callbacks)
        self.guard = CollapseGuard.for_run(task.total_steps) if task.config.detect_collapse else None
        self.rollbacks = 0
        self.logger = RunLogger(task.run_dir, task.config.wandb, to_jsonable(task.config), from_step=task.step) if task.is_main else None
        task.logger = self.logger

    def _emit(self, event: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, event)(self.task, *args)

    def _save(self, keep_forever: bool = False) -> None:
        try:
            path = self.task.save(keep_forever)
        except TrainingDivergedError as exc:  # NaN weights: never saved
            self._roll_back(exc)
            return
        self._emit("on_checkpoint", path)

    def _checked_step(self) -> dict[str, float]:
        """One training step of the task; raises TrainingDivergedError (NaN/Inf loss) or TrainingCollapsedError."""
        task = self.task
        scalars = task.train_step()
        check_finite(task, scalars)
        collapse = self.guard.update(task.step + 1, scalars) if self.guard is not None else None
        if self.guard is not None and task.agree(collapse is not None):  # rank 0's verdict, taken by every rank together
            reason = collapse or "rank 0's model stopped learning"
            raise TrainingCollapsedError(f"training collapsed: {reason}; lower the learning rate (or --no-detect-collapse); {task.last_good_checkpoint()}")
        return scalars

    def _roll_back(self, exc: TrainingDivergedError | TrainingCollapsedError) -> None:
        """--on-divergence rollback: reloads the last good checkpoint and halves the learning rates (at most
        MAX_ROLLBACKS times); otherwise, or with no checkpoint to go back to, re-raises `exc`."""
        task, cfg = self.task, self.task.config
        if cfg.on_divergence != "rollback" or self.rollbacks >= MAX_ROLLBACKS or latest_checkpoint(task.checkpoint_dir) is None:
            raise exc
        failed_at = task.step
        try:
            task.restore()
        except Exception:  # e.g. a model whose shape changed since (upsampled grids): stop as without the flag
            raise exc from None
        self.rollbacks += 1
        task.lr_scale *= 0.5
        task.mark_step_end()
        self.guard = CollapseGuard.for_run(task.total_steps) if cfg.detect_collapse else None
        print(
            f"latlas: warning: {str(exc).split(';')[0]}; rolled back from step {failed_at} to step {task.step} with learning rates x{task.lr_scale:g} "
            f"(rollback {self.rollbacks} of {MAX_ROLLBACKS})",
            file=sys.stderr,
        )
        if self.logger is not None:
            self.logger.scalars(task.step, {"rollback": float(self.rollbacks), "lr_scale": task.lr_scale})

    def _budget_left(self) -> bool:
        task, cfg = self.task, self.task.config
        timed_out = bool(cfg.max_time and task.train_seconds >= cfg.max_time)
        return task.step < task.total_steps and not task.agree(timed_out)

    def run(self) -> Path:
        task, cfg = self.task, self.task.config
        # stopping by time: a step counter, not a bar over a step budget that will not be reached
        bar = tqdm(
            total=None if cfg.max_time else task.total_steps,
            initial=task.step,
            disable=not (cfg.progress and task.is_main),
            mininterval=1.0,
            dynamic_ncols=True,
            file=sys.stderr,
        )
        last_save = time.perf_counter()
        pending_times = sorted(t for t in cfg.checkpoint_at_times if t > task.train_seconds)
        window_start, window_steps, window_counts = time.perf_counter(), 0, task.throughput()
        self._emit("on_start")
        with checkpoint_on_interrupt(task.save, bar) as stop:
            while self._budget_left():
                t0 = time.perf_counter()
                task.mark_step_start()
                try:
                    scalars = self._checked_step()
                except (TrainingDivergedError, TrainingCollapsedError) as exc:
                    self._roll_back(exc)
                    continue
                task.step += 1
                task.mark_step_end()
                task.train_seconds += time.perf_counter() - t0
                window_steps += 1
                bar.update(1)
                if self.logger is not None and (task.step % cfg.log_every == 0 or task.step == 1):
                    now = time.perf_counter()
                    elapsed = max(now - window_start, 1e-9)
                    counts = task.throughput()
                    rates = {"steps_per_sec": window_steps / elapsed, **{f"{k}_per_sec": (counts[k] - window_counts.get(k, 0)) / elapsed for k in counts}}
                    window_start, window_steps, window_counts = now, 0, counts
                    scalars = {**scalars, **rates, "train_seconds": task.train_seconds}
                    self.logger.scalars(task.step, scalars)
                    bar.set_postfix({k: f"{scalars[k]:.4g}" for k in ("loss", "psnr") if k in scalars})
                self._emit("on_step", scalars)
                if cfg.eval_every > 0 and task.step % cfg.eval_every == 0:
                    metrics = task.evaluate()
                    if self.logger is not None and metrics:
                        self.logger.scalars(task.step, metrics)
                    self._emit("on_eval", metrics)
                if pending_times and task.agree(task.train_seconds >= pending_times[0]):
                    pending_times = [t for t in pending_times if t > task.train_seconds]
                    self._save(keep_forever=True)
                    last_save = time.perf_counter()
                elif (cfg.checkpoint_every > 0 and task.step % cfg.checkpoint_every == 0) or task.agree(
                    time.perf_counter() - last_save > cfg.checkpoint_every_seconds
                ):
                    self._save()
                    last_save = time.perf_counter()
                if task.agree(stop.requested):  # SIGTERM or Ctrl-C: stop at this step boundary
                    raise KeyboardInterrupt
        self._save()
        peak_mb = peak_memory_mb(task.device)  # of training: before the final evaluation renders whole images
        live_mb = live_memory_mb(task.device)
        summary = task.summary()
        if summary is not None and task.is_main:
            summary = {
                "task": task.name,
                "steps": task.step,
                "train_seconds": task.train_seconds,
                "peak_memory_mb": peak_mb,
                "live_memory_mb": live_mb,
                **summary,
            }
            save_json_atomic(task.run_dir / "summary.json", summary)
            if self.logger is not None:
                self.logger.scalars(task.step, {k: float(v) for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
        if self.logger is not None:
            self.logger.close()
        task.logger = None
        self._emit("on_end", summary)
        return task.run_dir
