"""Run folders: outputs/<experiment>/<method>/<timestamp>/ and reloading what they hold."""

from __future__ import annotations

import json
import time
from pathlib import Path

from latent_atlas.config_io import save_json_atomic, to_jsonable, update_from_dict
from latent_atlas.errors import ConfigError, DataError
from latent_atlas.methods.registry import METHODS, method_config
from latent_atlas.training.config import TrainConfig

CONFIG_FILE = "config.json"


def new_run_dir(config: TrainConfig) -> Path:
    """Creates the run folder of a new run and records its timestamp in the config."""
    experiment = config.experiment_name or (config.data.name if config.data else "experiment")
    config.timestamp = config.timestamp or time.strftime("%Y-%m-%d_%H%M%S")
    run_dir = config.output_dir / experiment / config.method_name / config.timestamp
    suffix = 1
    while (run_dir / CONFIG_FILE).exists():
        run_dir = run_dir.with_name(f"{config.timestamp}-{suffix}")
        suffix += 1
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def save_config(run_dir: Path, config: TrainConfig) -> None:
    save_json_atomic(run_dir / CONFIG_FILE, to_jsonable(config))


def load_config(run_dir: Path) -> TrainConfig:
    """The TrainConfig saved in a run folder (structure from the registry entry of its method)."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise DataError(path, "not a run folder (config.json not found)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(path, f"malformed JSON ({exc.msg})") from None
    name = data.get("method_name")
    if name not in METHODS:
        raise ConfigError(f"{path}: unknown method '{name}'")
    return update_from_dict(TrainConfig(method_name=name, method=method_config(name)), data)
