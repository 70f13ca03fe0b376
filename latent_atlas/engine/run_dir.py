"""Run folders: outputs/<experiment>/<kind>/<timestamp>/, their saved config and which task wrote them."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from latent_atlas.config_io import save_json_atomic, to_jsonable
from latent_atlas.engine.config import RunConfig
from latent_atlas.errors import ConfigError, DataError

CONFIG_FILE = "config.json"


def new_run_dir(config: RunConfig, default_experiment: str, kind: str, unique: bool = True) -> Path:
    """Creates the folder of a new run and records its timestamp in the config (`unique`: a suffix when a run
    exists there; the ranks of a distributed run share one folder instead)."""
    experiment = config.experiment_name or default_experiment or "experiment"
    if "/" in experiment or "\\" in experiment or experiment in (".", ".."):
        raise ConfigError(f"--experiment-name {experiment!r}: a folder name, not a path")
    config.timestamp = config.timestamp or time.strftime("%Y-%m-%d_%H%M%S")
    output_dir = Path(config.output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise ConfigError(f"--output-dir {output_dir}: is a file, not a folder")
    base = output_dir / experiment / kind / config.timestamp
    run_dir, suffix = base, 1
    while True:  # mkdir either creates the folder or fails: two runs started in the same second never share one
        try:
            run_dir.mkdir(parents=True, exist_ok=not unique)
            return run_dir
        except FileExistsError:
            if not run_dir.is_dir():
                raise ConfigError(f"--output-dir {output_dir}: cannot create {run_dir} (a file is in the way)") from None
            run_dir, suffix = base.with_name(f"{config.timestamp}-{suffix}"), suffix + 1
        except NotADirectoryError:
            raise ConfigError(f"--output-dir {output_dir}: cannot create {run_dir} (a file is in the way)") from None


def save_config(run_dir: Path, task: str, config: Any) -> None:
    """Writes RUN/config.json: the task's name and its full config, paths made absolute (so that eval,
    render and --resume work from any directory)."""
    save_json_atomic(run_dir / CONFIG_FILE, {"task": task, **to_jsonable(absolute_paths(config))})


def absolute_paths(config: Any) -> Any:
    """A copy of dataclass `config` whose Path fields (also in tuples and nested configs), and strings naming
    an existing path (--ae), are absolute."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        changed = {f.name: absolute_paths(getattr(config, f.name)) for f in dataclasses.fields(config) if f.init}
        return dataclasses.replace(config, **{k: v for k, v in changed.items() if v is not getattr(config, k)})
    if isinstance(config, Path):
        return config.absolute()
    if isinstance(config, str) and ("/" in config or config.startswith(".")) and Path(config).exists():  # --ae PATH
        return str(Path(config).absolute())
    if isinstance(config, tuple):
        return tuple(absolute_paths(v) for v in config)
    return config


def read_config(run_dir: Path) -> dict:
    """The JSON of RUN/config.json (DataError naming the file when absent or malformed)."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise DataError(path, "not a run folder (config.json not found)")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, RecursionError) as exc:
        raise DataError(path, f"malformed JSON ({getattr(exc, 'msg', 'nested too deep')})") from None
    if not isinstance(data, dict):
        raise DataError(path, "malformed run config (not a JSON object)")
    return data


def task_of(data: dict) -> str:
    """Which task wrote a saved config: its 'task' key, or (older runs) what its fields show."""
    if "task" in data:
        return str(data["task"])
    if "phases" in data:
        return "multi-scene"
    if "kl_weight" in data:
        return "autoencoder"
    return "scene"
