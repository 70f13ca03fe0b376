"""Small TrainConfig builders for tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from latent_atlas.methods.registry import method_config
from latent_atlas.tasks.scene_config import TrainConfig


def tiny_config(data: Path, out: Path, steps: int, method: str = "tiny-nerf", **overrides) -> TrainConfig:
    """A quiet TrainConfig for `method` with `steps` steps; overrides apply to TrainConfig or MethodConfig fields."""
    method_cfg = method_config(method)
    method_fields = {f.name for f in dataclasses.fields(method_cfg)}
    method_cfg = dataclasses.replace(method_cfg, max_steps=steps, **{k: v for k, v in overrides.items() if k in method_fields})
    run = {k: v for k, v in overrides.items() if k not in method_fields}
    run.setdefault("eval_every", 10**9)
    run.setdefault("checkpoint_every", 10**9)
    return TrainConfig(method_name=method, method=method_cfg, data=data, output_dir=out, progress=False, **run)
