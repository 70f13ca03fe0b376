"""What the engine trains: a Task supplies its step, evaluation and state; the engine owns the loop.

A task (one scene, many scenes, an autoencoder) subclasses Task and implements
`total_steps`, `train_step`, `checkpoint_state` / `load_checkpoint_state` and
`summary`; the base class gives it a run folder, the budget's progress, random
states and checkpoints that resume exactly (also after an interrupt mid-step).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from latent_atlas.config_checks import check_config
from latent_atlas.engine.checkpoints import checkpoint_name, latest_checkpoint, load_latest, save_checkpoint
from latent_atlas.engine.config import RunConfig
from latent_atlas.engine.logger import RunLogger
from latent_atlas.engine.run_dir import new_run_dir, save_config
from latent_atlas.errors import ConfigError, DataError, TrainingDivergedError

FINITE_CHECK_ELEMENTS = 1 << 20
"""Elements checked at a time by all_finite (its temporaries stay at a few MiB, whatever the tensor's size)."""


def all_finite(values: Tensor) -> bool:
    """Whether every element of `values` is finite, checked in slices: torch.isfinite of a whole 48-MiB table of 256
    scenes made temporaries of twice its size, the peak of a checkpoint (BENCHMARKS.md, session 51)."""
    flat = values.reshape(-1)
    return all(bool(torch.isfinite(flat[i : i + FINITE_CHECK_ELEMENTS]).all()) for i in range(0, flat.numel(), FINITE_CHECK_ELEMENTS))


class Task:
    """Base of everything the engine trains. Subclasses set `config`, `device` and call `open_run()`."""

    name = "task"
    """Registry name of the task (saved in config.json, so that commands know what a run folder holds)."""
    config: RunConfig
    device: torch.device
    run_dir: Path
    step: int = 0
    train_seconds: float = 0.0
    is_main = True
    unique_run_dir = True
    """A new run gets a folder of its own (False: the processes of a distributed run share rank 0's)."""
    """Whether this process writes logs, configs and summaries (rank 0 of a distributed run)."""
    logger: RunLogger | None = None
    """The run's logger while the engine runs it (main process only), for images of evaluations."""
    _rng_at_step_start: dict[str, Tensor] | None = None
    lr_scale: float = 1.0
    """Factor on every learning rate (halved by each --on-divergence rollback; saved with checkpoints)."""

    # ---- what a task supplies ---------------------------------------------------------------------
    @property
    def total_steps(self) -> int:
        """Steps of the whole run (the step budget)."""
        raise NotImplementedError

    def train_step(self) -> dict[str, float]:
        """One optimisation step at self.step; returns scalars to log, 'loss' (the minimised total) among them."""
        raise NotImplementedError

    def evaluate(self) -> dict[str, float]:
        """Periodic evaluation on held-out data: scalars to log (none by default)."""
        return {}

    def checkpoint_state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """(tensors, JSON-able state) that, with the random states, continue the run exactly."""
        raise NotImplementedError

    def load_checkpoint_state(self, tensors: dict[str, Tensor], state: dict[str, Any]) -> None:
        """Inverse of checkpoint_state."""
        raise NotImplementedError

    def summary(self) -> dict[str, Any] | None:
        """Final results written to RUN/summary.json beside steps, time and memory (None: this rank writes none)."""
        return {}

    def random_generators(self) -> dict[str, torch.Generator]:
        """The task's own generators by name, saved in checkpoints as `rng.<name>` (torch's global one always is)."""
        return {}

    def throughput(self) -> dict[str, int]:
        """Running totals whose rate the engine logs as `<name>_per_sec` (e.g. {'rays': rays seen})."""
        return {}

    def view_scenes(self) -> list:
        """(name, training cameras) per scene, for the viewer (scene tasks)."""
        raise ConfigError(f"--viewer: a {self.name} run has no scene to show")

    def view_renderer(self):
        """(scene index, one camera, metadata=None) -> {'color', 'acc', 'depth'} of the model as it is now (scene tasks)."""
        raise ConfigError(f"--viewer: a {self.name} run has no scene to show")

    def view_dynamic(self) -> bool:
        """Whether the viewer shows a time slider (the model reads time)."""
        return False

    def after_save(self) -> None:
        """Called after each checkpoint this process wrote (e.g. to export an autoencoder)."""

    def default_experiment(self) -> str:
        """Experiment folder name when --experiment-name is not given."""
        return "experiment"

    def kind(self) -> str:
        """Middle part of the run folder path (a method name, igae, ae-tiny, ...)."""
        return self.name

    # ---- distributed runs override these ----------------------------------------------------------
    def agree(self, flag: bool) -> bool:
        """The main process's value of a time-based decision, on every process (one process: `flag`)."""
        return flag

    def barrier(self) -> None:
        """Waits for every process (one process: nothing to wait for)."""

    # ---- provided ---------------------------------------------------------------------------------
    def progress(self) -> float:
        """Fraction of the run done: by steps, or by time when --max-time binds sooner."""
        frac = self.step / max(self.total_steps, 1)
        if self.config.max_time:
            frac = max(frac, self.train_seconds / self.config.max_time)
        return frac

    def open_run(self, save: bool = True) -> None:
        """Resumes RUN (--resume; a new run starts in it when it holds no checkpoint) or creates a new run folder;
        then saves the config (unless `save` is False: a run loaded to be looked at)."""
        cfg = self.config
        check_config(cfg)
        if cfg.resume is not None:
            self.run_dir = Path(cfg.resume)
            self.run_dir.mkdir(parents=True, exist_ok=True)
            # a tensors file without its JSON is a write cut short, not a checkpoint: only JSONs (or set-aside ones) count
            if not self.restore() and any(self.checkpoint_dir.glob("step-*.json*")):
                raise DataError(self.checkpoint_dir, "no readable checkpoint left (the damaged ones are set aside as *.corrupt); nothing to resume")
        else:
            self.run_dir = new_run_dir(cfg, self.default_experiment(), self.kind(), self.unique_run_dir)
        if self.is_main and save:
            save_config(self.run_dir, self.name, cfg)

    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    def _random_states(self) -> dict[str, Tensor]:
        states = {"rng.torch": torch.get_rng_state()}
        states.update({f"rng.{name}": g.get_state() for name, g in self.random_generators().items()})
        if self.device.type == "cuda":
            states["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        return states

    def mark_step_start(self) -> None:
        """Remembers the random states at the start of a step: an interrupt mid-step saves these, so that the
        resumed run draws the same batch again."""
        self._rng_at_step_start = self._random_states()

    def mark_step_end(self) -> None:
        self._rng_at_step_start = None

    def saved_already(self) -> bool:
        """Whether a checkpoint of the current step exists (never overwrite a complete step with a later state)."""
        return (self.checkpoint_dir / f"{checkpoint_name(self.step)}.json").is_file()

    def save(self, keep_forever: bool = False) -> Path | None:
        """Writes a checkpoint of the current step (once); returns its JSON path, or None when it existed."""
        if self.saved_already():
            return None
        tensors, state = self.checkpoint_state()
        self.refuse_non_finite(tensors)
        tensors.update(self._rng_at_step_start or self._random_states())
        state = {"train_seconds": self.train_seconds, "lr_scale": self.lr_scale, **state}
        path = save_checkpoint(self.checkpoint_dir, self.step, tensors, state, self.config.keep_checkpoints, keep_forever)
        self.after_save()
        return path.with_suffix(".json")

    def refuse_non_finite(self, tensors: dict[str, Tensor]) -> None:
        """Raises TrainingDivergedError when a tensor about to be saved holds NaN/Inf (gradients that blew up
        in the last step): good checkpoints are never followed by a poisoned one."""
        bad = next((k for k, v in tensors.items() if v.is_floating_point() and not all_finite(v)), None)
        if bad is not None:
            raise TrainingDivergedError(f"{bad} holds NaN or Inf at step {self.step}; {self.last_good_checkpoint()}")

    def last_good_checkpoint(self) -> str:
        """Where to resume from after a failure: 'last good checkpoint: PATH (...)', or that there is none."""
        last = latest_checkpoint(self.checkpoint_dir)
        if last is None:
            return "no checkpoint was written yet"
        return f"last good checkpoint: {last} (continue with: latlas train --resume {self.run_dir})"

    def restore(self) -> bool:
        """Loads the newest readable checkpoint (falling back past corrupt ones); False when there is none."""
        found = load_latest(self.checkpoint_dir)
        if found is None:
            return False
        _, tensors, state = found
        self.load_checkpoint_state(tensors, state)
        self.restore_random_states(tensors)
        self.step, self.train_seconds = int(state["step"]), float(state["train_seconds"])
        self.lr_scale = float(state.get("lr_scale", 1.0))
        return True

    def restore_random_states(self, tensors: dict[str, Tensor]) -> None:
        torch.set_rng_state(tensors["rng.torch"])
        for name, generator in self.random_generators().items():
            if f"rng.{name}" in tensors:
                generator.set_state(tensors[f"rng.{name}"])
        if "rng.cuda" in tensors and self.device.type == "cuda":
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)

    def train(self, callbacks: tuple = ()) -> Path:
        """Runs the engine on this task until its budget ends; returns the run folder."""
        from latent_atlas.engine.loop import Engine

        return Engine(self, callbacks).run()
