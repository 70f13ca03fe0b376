"""Checkpoints are atomic and complete: a resumed run continues exactly where it stopped."""

import pytest
import torch

from latent_atlas.engine.checkpoints import latest_checkpoint, list_checkpoints, load_checkpoint
from latent_atlas.errors import TrainingDivergedError
from latent_atlas.tasks.scene import SceneTask
from tests.tasks.helpers import tiny_config


def _params(run_dir):
    tensors, state = load_checkpoint(latest_checkpoint(run_dir / "checkpoints"))
    return {k: v for k, v in tensors.items() if k.startswith("model.")}, state


@pytest.mark.parametrize("sampler", ["rays", "importance"])
def test_resume_matches_uninterrupted_run(micro_scene, tmp_path, sampler):
    """The importance sampler's error map travels with the checkpoint: the resumed run draws the same rays."""
    straight = SceneTask(tiny_config(micro_scene, tmp_path / "a", steps=12, rays_per_batch=64, sampler=sampler)).train()

    first = tiny_config(micro_scene, tmp_path / "b", steps=12, rays_per_batch=64, checkpoint_every=5, sampler=sampler)
    trainer = SceneTask(first)
    # simulate a kill after step 7: the last checkpoint is step 5
    for _ in range(7):
        trainer.train_step()
        trainer.step += 1
        if trainer.step % 5 == 0:
            trainer.save()
    run_dir = trainer.run_dir
    assert latest_checkpoint(run_dir / "checkpoints").name == "step-0000005.json"

    resumed_cfg = tiny_config(micro_scene, tmp_path / "b", steps=12, rays_per_batch=64, resume=run_dir, sampler=sampler)
    resumed = SceneTask(resumed_cfg)
    assert resumed.step == 5
    if sampler == "importance":
        saved, _ = load_checkpoint(latest_checkpoint(run_dir / "checkpoints"))
        assert not torch.all(saved["sampler.error_map"] == 1.0)  # five steps of measured errors, not the start value
        assert torch.equal(resumed.sampler.error_map, saved["sampler.error_map"])
    resumed.train()
    a, sa = _params(straight)
    b, sb = _params(run_dir)
    assert sa["step"] == sb["step"] == 12
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6), key


def test_incomplete_checkpoint_is_ignored(micro_scene, tmp_path):
    run = SceneTask(tiny_config(micro_scene, tmp_path, steps=3, rays_per_batch=32)).train()
    ckpts = run / "checkpoints"
    # a tensor file whose JSON was never written (killed mid-save) does not count
    (ckpts / "step-0000009.safetensors").write_bytes(b"partial")
    assert latest_checkpoint(ckpts).name == "step-0000003.json"
    assert len(list_checkpoints(ckpts)) == 1


def test_diverging_loss_is_detected(micro_scene, tmp_path):
    trainer = SceneTask(tiny_config(micro_scene, tmp_path, steps=5, rays_per_batch=32))
    with torch.no_grad():
        for p in trainer.model.parameters():
            p.fill_(float("nan"))
    with pytest.raises(TrainingDivergedError, match="loss is nan at step 0"):
        trainer.train()


def test_max_time_stops_training(micro_scene, tmp_path):
    run = SceneTask(tiny_config(micro_scene, tmp_path, steps=10**6, rays_per_batch=32, max_time=1.0)).train()
    _, state = _params(run)
    assert 1.0 <= state["train_seconds"] < 3.0 and state["step"] < 10**6
