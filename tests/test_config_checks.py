"""Config numbers that cannot be meant are one-line errors naming the flag; resumed runs keep their model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from latent_atlas.config_checks import check_config, check_resume_overrides
from latent_atlas.config_io import update_from_dict
from latent_atlas.errors import ConfigError
from latent_atlas.methods.registry import METHODS, method_config
from latent_atlas.scaled.presets import SCALED_PRESETS, scaled_preset
from latent_atlas.tasks.scene_config import TrainConfig


def _config(method="tiny-nerf") -> TrainConfig:
    return TrainConfig(method_name=method, method=method_config(method), data=Path("scene"))


def test_every_default_passes():
    for name in METHODS:
        check_config(_config(name))
    for preset in SCALED_PRESETS:
        check_config(scaled_preset(preset))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: setattr(c.method, "max_steps", -5), "--max-steps -5: must not be negative"),
        (lambda c: setattr(c.method, "rays_per_batch", 0), "--rays-per-batch 0: must be at least 1"),
        (lambda c: setattr(c.method.optimizers["fields"], "lr", float("nan")), "--optimizers.fields.lr nan: must be a finite number"),
        (lambda c: setattr(c.method.optimizers["fields"], "lr", 0.0), "--optimizers.fields.lr 0: must be positive"),
        (lambda c: setattr(c, "max_time", -1.0), "--max-time -1.0: must not be negative"),
        (lambda c: setattr(c.method.model, "n_samples", 0), "--model.n-samples 0: must be at least 1"),
    ],
)
def test_bad_numbers_name_their_flag(change, message):
    config = _config()
    change(config)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("-", r"\-")):
        check_config(config)


def test_zero_where_zero_is_documented_is_fine():
    config = _config()
    config.eval_every, config.checkpoint_every, config.seed, config.checkpoint_every_seconds = 0, 0, 0, 0.0
    check_config(config)


def test_resume_may_change_budget_but_not_model():
    saved = _config()
    longer = dataclasses.replace(saved, method=dataclasses.replace(saved.method, max_steps=9000), eval_every=10)
    check_resume_overrides("RUN", saved, longer)
    gentler = _config()
    gentler.method.optimizers["fields"].lr = 1e-4  # after a divergence: continue more gently
    check_resume_overrides("RUN", saved, gentler)
    wider = dataclasses.replace(saved, method=dataclasses.replace(saved.method, model=dataclasses.replace(saved.method.model, n_samples=8)))
    with pytest.raises(ConfigError, match=r"--resume RUN: --model\.n-samples 8 differs from the run's 48"):
        check_resume_overrides("RUN", saved, wider)


def test_saved_config_with_wrong_types_is_refused():
    with pytest.raises(ValueError, match="'rays_per_batch': expected an integer"):
        update_from_dict(method_config("tiny-nerf"), {"rays_per_batch": "many"})
    with pytest.raises(ValueError, match="'background': expected one of random, white, black"):
        update_from_dict(_config(), {"background": "purple"})
    assert update_from_dict(method_config("tiny-nerf"), {"rays_per_batch": 64.0}).rays_per_batch == 64
