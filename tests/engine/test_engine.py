"""The engine: callbacks, checkpoints that fall back past a corrupt newest one, interrupts that resume exactly."""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest
import torch

from latent_atlas.engine.callbacks import Callback
from latent_atlas.engine.checkpoints import list_checkpoints, load_checkpoint
from latent_atlas.errors import TrainingDivergedError
from latent_atlas.tasks.scene import SceneTask
from tests.tasks.helpers import tiny_config


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_start(self, task):
        self.events.append(("start", task.step))

    def on_step(self, task, scalars):
        self.events.append(("step", task.step, "loss" in scalars))

    def on_eval(self, task, metrics):
        self.events.append(("eval", task.step, "eval_psnr" in metrics))

    def on_checkpoint(self, task, path):
        self.events.append(("checkpoint", task.step, path is not None and path.is_file()))

    def on_end(self, task, summary):
        self.events.append(("end", task.step, summary["steps"]))


def test_callbacks_see_every_step_eval_and_checkpoint(micro_scene, tmp_path):
    recorder = Recorder()
    SceneTask(tiny_config(micro_scene, tmp_path, steps=4, rays_per_batch=32, eval_every=2, checkpoint_every=3)).train(callbacks=(recorder,))
    assert recorder.events == [
        ("start", 0),
        ("step", 1, True),
        ("step", 2, True),
        ("eval", 2, True),
        ("step", 3, True),
        ("checkpoint", 3, True),
        ("step", 4, True),
        ("eval", 4, True),
        ("checkpoint", 4, True),
        ("end", 4, 4),
    ]


def test_corrupt_newest_checkpoint_falls_back_to_the_one_before(micro_scene, tmp_path, capsys):
    run = SceneTask(tiny_config(micro_scene, tmp_path, steps=6, rays_per_batch=32, checkpoint_every=3)).train()
    newest = run / "checkpoints" / "step-0000006.safetensors"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # a full disk cut it short
    resumed = SceneTask(tiny_config(micro_scene, tmp_path, steps=6, rays_per_batch=32, checkpoint_every=3, resume=run))
    assert resumed.step == 3
    assert "step-0000006.safetensors: checkpoint cut short or damaged" in capsys.readouterr().err
    assert (run / "checkpoints" / "step-0000006.safetensors.corrupt").is_file()
    resumed.train()
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == ["step-0000003.json", "step-0000006.json"]
    assert load_checkpoint(run / "checkpoints" / "step-0000006.json")[1]["step"] == 6


def test_a_kill_during_the_first_checkpoint_write_resumes_as_a_new_run(micro_scene, tmp_path):
    """Killed between the first tensors file and its JSON: nothing to resume, so --resume starts afresh in the folder
    (the fresh-clone kill drill once hit this and stopped with 'no readable checkpoint left')."""
    run = SceneTask(tiny_config(micro_scene, tmp_path, steps=1, rays_per_batch=32, checkpoint_every=1)).train()
    (run / "checkpoints" / "step-0000001.json").unlink()  # the state a SIGKILL before save_json_atomic leaves
    resumed = SceneTask(tiny_config(micro_scene, tmp_path, steps=2, rays_per_batch=32, checkpoint_every=1, resume=run))
    assert resumed.step == 0
    resumed.train()
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == ["step-0000001.json", "step-0000002.json"]


def test_a_run_whose_every_checkpoint_is_damaged_does_not_restart_silently(micro_scene, tmp_path):
    from latent_atlas.errors import DataError

    run = SceneTask(tiny_config(micro_scene, tmp_path, steps=1, rays_per_batch=32, checkpoint_every=1)).train()
    (run / "checkpoints" / "step-0000001.json").write_text("{cut")
    with pytest.raises(DataError, match="no readable checkpoint left"):
        SceneTask(tiny_config(micro_scene, tmp_path, steps=2, rays_per_batch=32, checkpoint_every=1, resume=run))


def test_corrupt_older_json_does_not_stop_saving(micro_scene, tmp_path):
    run = SceneTask(tiny_config(micro_scene, tmp_path, steps=4, rays_per_batch=32, checkpoint_every=2, keep_checkpoints=5)).train()
    (run / "checkpoints" / "step-0000002.json").write_text("{cut")
    SceneTask(tiny_config(micro_scene, tmp_path, steps=6, rays_per_batch=32, checkpoint_every=2, keep_checkpoints=1, resume=run)).train()
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == ["step-0000006.json"]


def test_sigterm_mid_step_resumes_to_the_same_weights(micro_scene, tmp_path):
    """SIGTERM in the middle of a step: the step finishes, its boundary is saved, and resuming gives the same weights."""
    straight = SceneTask(tiny_config(micro_scene, tmp_path / "a", steps=30, rays_per_batch=32)).train()
    task = SceneTask(tiny_config(micro_scene, tmp_path / "b", steps=30, rays_per_batch=32))
    forward = task.model.forward

    def forward_killed_at_step_13(rays, bg):
        if task.step == 12 and task.model.training:
            os.kill(os.getpid(), signal.SIGTERM)  # during the forward pass of the 13th step
        return forward(rays, bg)

    task.model.forward = forward_killed_at_step_13
    assert threading.current_thread() is threading.main_thread()
    with pytest.raises(KeyboardInterrupt):
        task.train()
    saved = list_checkpoints(task.run_dir / "checkpoints")
    assert [p.name for p in saved] == ["step-0000013.json"]
    resumed = SceneTask(tiny_config(micro_scene, tmp_path / "b", steps=30, rays_per_batch=32, resume=task.run_dir))
    assert resumed.step == 13
    resumed.train()
    a, _ = load_checkpoint(list_checkpoints(straight / "checkpoints")[-1])
    b, _ = load_checkpoint(list_checkpoints(task.run_dir / "checkpoints")[-1])
    for key in (k for k in a if k.startswith("model.")):
        torch.testing.assert_close(a[key], b[key], msg=key)
    steps = [json.loads(line)["step"] for line in (task.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps)


def test_divergence_names_the_checkpoint_to_resume(micro_scene, tmp_path):
    task = SceneTask(tiny_config(micro_scene, tmp_path, steps=4, rays_per_batch=32, checkpoint_every=2))

    class Poison(Callback):
        def on_checkpoint(self, task, path):
            with torch.no_grad():
                for p in task.model.parameters():
                    p.fill_(float("nan"))

    with pytest.raises(TrainingDivergedError, match=r"loss is nan at step 2 .*last good checkpoint: .*step-0000002.json"):
        task.train(callbacks=(Poison(),))
