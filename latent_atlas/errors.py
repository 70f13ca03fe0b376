"""Errors that the CLI turns into one clear line and a non-zero exit code."""

from __future__ import annotations

from pathlib import Path


class LatlasError(Exception):
    """Base of every error meant for the user (printed without a traceback)."""

    exit_code = 2


class DataError(LatlasError):
    """Bad input data: names the file and what is wrong with it."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class ConfigError(LatlasError):
    """A configuration or command-line value that cannot be used."""


class TrainingDivergedError(LatlasError):
    """The loss became NaN or Inf; the run stops and keeps its last checkpoint."""

    exit_code = 3


class CheckpointWriteError(LatlasError):
    """A checkpoint could not be written (disk full, file too large); the earlier checkpoints are intact."""

    exit_code = 4


class TrainingCollapsedError(LatlasError):
    """Training stopped learning: the loss exploded or the model fell back to predicting a constant colour."""

    exit_code = 3
