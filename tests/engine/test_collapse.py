"""Divergence and collapse: NaN weights never reach a checkpoint; a run that stopped learning is stopped."""

from __future__ import annotations

import json

import pytest
import torch

from latent_atlas.engine.callbacks import Callback
from latent_atlas.engine.collapse import CollapseGuard
from latent_atlas.errors import TrainingCollapsedError, TrainingDivergedError
from latent_atlas.tasks.scene import SceneTask
from tests.tasks.helpers import tiny_config


def test_guard_flags_a_flat_line_after_warmup_and_patience():
    guard = CollapseGuard(warmup=50, patience=30, smoothing=5)
    verdicts = [guard.update(step, {"fit_mse": 0.02, "baseline_mse": 0.02}) for step in range(1, 100)]
    first = next(i for i, v in enumerate(verdicts, start=1) if v)
    assert first == 50 and "no better than a constant colour or an empty scene" in verdicts[first - 1]


def test_guard_is_quiet_for_a_learning_run_and_flags_an_explosion():
    guard = CollapseGuard(warmup=50, patience=30, smoothing=5)
    assert all(guard.update(s, {"fit_mse": 0.02 / (1 + s / 10), "baseline_mse": 0.02}) is None for s in range(1, 400))
    exploding = CollapseGuard(smoothing=5)
    verdicts = [exploding.update(s, {"fit_mse": 10.0**s, "baseline_mse": 0.05}) for s in range(1, 10)]
    assert any(v and "exploded" in v for v in verdicts)


def test_learning_rate_far_too_high_is_a_collapse(micro_scene, tmp_path):
    """tiny-nerf at lr 10 saturates to an empty scene (eval ~10 dB): exit 3 at step 300, not a finished run."""
    cfg = tiny_config(micro_scene, tmp_path, steps=2000, rays_per_batch=32, checkpoint_every=100)
    cfg.method.optimizers["fields"].lr = 10.0
    with pytest.raises(
        TrainingCollapsedError, match=r"no better than a constant colour or an empty scene .* at step 300; .*last good checkpoint: .*step-0000200.json"
    ):
        SceneTask(cfg).train()


def test_healthy_run_is_not_flagged(micro_scene, tmp_path):
    run = SceneTask(tiny_config(micro_scene, tmp_path, steps=600, rays_per_batch=64, log_every=50)).train()
    assert json.loads((run / "summary.json").read_text())["steps"] == 600


def test_nan_weights_never_reach_a_checkpoint(micro_scene, tmp_path):
    """Gradients that blow up leave a finite loss for the step but NaN weights: the save refuses them."""
    task = SceneTask(tiny_config(micro_scene, tmp_path, steps=6, rays_per_batch=32, checkpoint_every=2))

    class PoisonAfterStep(Callback):
        def on_step(self, task, scalars):
            if task.step == 4:
                with torch.no_grad():
                    next(task.model.parameters()).view(-1)[0] = float("nan")

    with pytest.raises(TrainingDivergedError, match=r"holds NaN or Inf at step 4; last good checkpoint: .*step-0000002.json"):
        task.train(callbacks=(PoisonAfterStep(),))
    assert [p.name for p in sorted((task.run_dir / "checkpoints").glob("*.json"))] == ["step-0000002.json"]


class _PoisonAt(Callback):
    """Sets a weight to NaN after step `at` (`times` times): the next step's loss is NaN."""

    def __init__(self, at: int, times: int):
        self.at, self.times = at, times

    def on_step(self, task, scalars):
        if task.step == self.at and self.times > 0:
            self.times -= 1
            with torch.no_grad():
                next(task.model.parameters()).view(-1)[0] = float("nan")


def test_rollback_continues_from_the_last_good_checkpoint_at_half_the_learning_rate(micro_scene, tmp_path, capsys):
    task = SceneTask(tiny_config(micro_scene, tmp_path, steps=8, rays_per_batch=32, checkpoint_every=2, on_divergence="rollback"))
    run = task.train(callbacks=(_PoisonAt(5, times=1),))
    assert "loss is nan at step 5 (loss_color_l2=nan); rolled back from step 5 to step 4 with learning rates x0.5 (rollback 1 of 3)" in capsys.readouterr().err
    assert json.loads((run / "summary.json").read_text())["steps"] == 8
    final = json.loads((run / "checkpoints" / "step-0000008.json").read_text())
    assert final["lr_scale"] == 0.5
    assert task.optimizers["fields"].param_groups[0]["lr"] == pytest.approx(0.5 * task.config.method.optimizers["fields"].lr_at(7 / 8))


def test_rollback_gives_up_after_three(micro_scene, tmp_path, capsys):
    task = SceneTask(tiny_config(micro_scene, tmp_path, steps=8, rays_per_batch=32, checkpoint_every=2, on_divergence="rollback"))
    with pytest.raises(TrainingDivergedError, match="loss is nan at step 5"):
        task.train(callbacks=(_PoisonAt(5, times=10),))
    assert "(rollback 3 of 3)" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_all_finite_finds_one_bad_value_in_any_slice(monkeypatch, bad):
    import latent_atlas.engine.task as task_module

    monkeypatch.setattr(task_module, "FINITE_CHECK_ELEMENTS", 7)  # slices of 7 of the 60 elements
    values = torch.randn(3, 4, 5)
    assert task_module.all_finite(values) and task_module.all_finite(torch.empty(0))
    for index in (0, 6, 7, 59):  # a slice's first and last elements, and the last element of the last (short) slice
        poisoned = values.clone()
        poisoned.view(-1)[index] = bad
        assert not task_module.all_finite(poisoned), index
    poisoned = values.clone()
    poisoned[2, 3, 4] = bad
    assert not task_module.all_finite(poisoned.transpose(0, 2))  # not contiguous
