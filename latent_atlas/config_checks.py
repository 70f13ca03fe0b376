"""Numbers in a config that cannot be meant: NaN, negative counts, zero learning rates. Checked before a run
starts, so that a typo is a one-line error (exit 2) and never a silent run or a divergence later."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from latent_atlas.errors import ConfigError

MAY_BE_NEGATIVE = frozenset({"density_shift", "seed", "logvar_init"})
"""Fields whose value may be below zero (a softplus shift, a random seed, a log-variance)."""

ZERO_ALLOWED = frozenset(
    {
        "appearance_dim",
        "checkpoint_every",
        "crop",
        "decoded_crop",
        "eval_every",
        "eval_images",
        "eval_views",
        "first_scene",
        "keep_checkpoints",
        "n_importance",
        "num_val",
        "num_test",
        "occupancy_warmup",
        "alpha_mask_min_steps",
        "rays_per_view",
        "samples_per_batch",
        "anneal_steps",
        "direction_frequencies",
        "position_frequencies",
        "view_frequencies",
        "feature_frequencies",
        "geometry_features",
        "crop_steps",
        "time_resolution",
        "time_frequencies",
    }
)
"""Integer fields where 0 is a documented choice (off, none, only at the end); other integers are counts >= 1."""

POSITIVE_FLOATS = frozenset(
    {
        "lr",
        "decoder_lr",
        "max_time",
        "eps",
        "step_ratio",
        "step_ratio_before_mask",
        "distance_scale",
        "far_plane",
        "anneal_slope",
        "viewer_share",
        "share",
        "seconds",
        "loss_gamma",
        "fourier_scale",
        "siren_omega",
        "crop_fraction",
        "beta_init",
        "softplus_beta",
    }
)
"""Float fields that must be > 0 (other floats are weights and thresholds, where 0 is allowed)."""

FRACTIONS = frozenset(
    {"betas", "alpha_mask_at", "upsample_at", "decoder_start", "held_out_share", "channel_weight_floor", "viewer_share", "share", "crop_fraction", "time"}
)
"""Float fields (or their items) that are fractions in [0, 1]."""


def _flag(path: list[str]) -> str:
    """The command-line flag of a config field (a scene run's `method` fields are flat: --max-steps)."""
    if path[:1] == ["method"]:
        path = path[1:]
    return "--" + ".".join(path).replace("_", "-")


def _check_number(value: float | int, name: str, path: list[str], is_item: bool = False) -> None:
    flag = _flag(path)
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{flag} {value}: must be a finite number")
    if value < 0 and name not in MAY_BE_NEGATIVE:
        raise ConfigError(f"{flag} {value}: must not be negative")
    if name in FRACTIONS and value > 1:
        raise ConfigError(f"{flag} {value}: must be a fraction between 0 and 1")
    if value == 0 and not is_item:
        if isinstance(value, int) and name not in ZERO_ALLOWED and name not in MAY_BE_NEGATIVE:
            raise ConfigError(f"{flag} 0: must be at least 1")
        if isinstance(value, float) and name in POSITIVE_FLOATS:
            raise ConfigError(f"{flag} 0: must be positive")


def check_config(config: Any, path: list[str] | None = None) -> None:
    """Raises ConfigError naming the flag of the first number in `config` (a dataclass, nested) that cannot be
    meant: non-finite, negative (outside MAY_BE_NEGATIVE), zero where a count or rate is required."""
    path = path or []
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        for f in dataclasses.fields(config):
            check_config(getattr(config, f.name), [*path, f.name])
        return
    name = path[-1] if path else ""
    if isinstance(config, bool) or config is None:
        return
    if isinstance(config, (int, float)):
        _check_number(config, name, path)
    elif isinstance(config, dict):
        for key, value in config.items():
            check_config(value, [*path, str(key)])
    elif isinstance(config, (list, tuple)):
        for i, value in enumerate(config):
            if dataclasses.is_dataclass(value):
                check_config(value, [*path, str(i)])
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                _check_number(value, name, path, is_item=True)


RESUME_MAY_CHANGE = frozenset(
    {
        "max_steps",
        "max_time",
        "epochs",
        "device",
        "eval_every",
        "eval_images",
        "eval_views",
        "eval_chunk",
        "checkpoint_every",
        "checkpoint_every_seconds",
        "keep_checkpoints",
        "checkpoint_at_times",
        "log_every",
        "wandb",
        "progress",
        "resume",
        "detect_collapse",
        "mixed_precision",
        "decoder_precision",
        "backend",
        "on_divergence",
        "viewer",
        "viewer_port",
        "viewer_share",
        "lr",
        "lr_final",
        "decoder_lr",
        "decoder_lr_final",
    }
)
"""Fields a resumed run may change: its budget, device, learning rates (to continue a diverged run more
gently), logging and checkpointing; not its model, data or losses."""


def _differences(saved: Any, new: Any, path: list[str]) -> list[tuple[list[str], Any, Any]]:
    if dataclasses.is_dataclass(saved) and dataclasses.is_dataclass(new) and type(saved) is type(new):
        found = []
        for f in dataclasses.fields(saved):
            found += _differences(getattr(saved, f.name), getattr(new, f.name), [*path, f.name])
        return found
    if isinstance(saved, dict) and isinstance(new, dict) and saved.keys() == new.keys():
        return [d for k in saved for d in _differences(saved[k], new[k], [*path, str(k)])]
    if isinstance(saved, (list, tuple)) and isinstance(new, (list, tuple)) and len(saved) == len(new):
        return [d for i, (a, b) in enumerate(zip(saved, new)) for d in _differences(a, b, [*path, str(i)])]
    return [] if saved == new else [(path, saved, new)]


def check_resume_overrides(run: str, saved: Any, new: Any) -> None:
    """ConfigError when flags given with --resume RUN change more than RESUME_MAY_CHANGE (an architecture,
    data or a schedule that the saved weights and optimiser state do not have)."""
    for path, before, after in _differences(saved, new, []):
        name = path[-1] if path else ""
        if name not in RESUME_MAY_CHANGE and not (len(path) >= 2 and path[-2] in RESUME_MAY_CHANGE):
            raise ConfigError(
                f"--resume {run}: {_flag(path)} {after} differs from the run's {before}; a resumed run keeps its model, data "
                "and losses (it may change budget, device, learning rates, evaluation, checkpoints and logging); start a new run instead"
            )
