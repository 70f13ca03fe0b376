"""Two gloo processes train to the same planes and decoder as one process (within float tolerance)."""

from __future__ import annotations

import json
import os
import socket

import torch
import torch.multiprocessing as mp

from latent_atlas.scaled.presets import scaled_preset
from latent_atlas.scaled.trainer import MultiSceneTrainer


def _config(data, out, scene_optimizer="adam"):
    cfg = scaled_preset("triplanes-rgb-cpu")
    cfg.scene_optimizer = scene_optimizer
    cfg.data, cfg.output_dir, cfg.progress, cfg.eval_views = (data,), out, False, 1
    cfg.n_samples, cfg.n_importance, cfg.rays_per_view, cfg.perturb = 8, 8, 32, False
    cfg.phases[0].epochs = 2.0
    cfg.experiment_name = "dist"
    return cfg


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn_two(worker, args_for) -> int:
    """Runs worker(rank, 2, port, *args_for(attempt)) on two processes and returns the attempt that finished: a
    second one when gloo's worker threads abort, as they now and then do on a loaded 2-core machine (C++
    "terminate called without an active exception", SIGABRT)."""
    for attempt in range(2):
        try:
            mp.spawn(worker, args=(2, _free_port(), *args_for(attempt)), nprocs=2, join=True)
            return attempt
        except mp.ProcessExitedException as exc:
            if attempt == 1 or "SIGABRT" not in str(exc):
                raise
    raise AssertionError("unreachable")


SCENE_OPTIMIZERS = ("adam", "row-adam", "lazy-adam")


def _worker(rank: int, world_size: int, port: int, data, out, more_ports) -> None:
    """One rank: a two-process run per scene optimiser, one after another in this process (one spawn, not three)."""
    torch.set_num_threads(1)
    for scene_optimizer, run_port in zip(SCENE_OPTIMIZERS, (port, *more_ports)):
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(run_port), RANK=str(rank), WORLD_SIZE=str(world_size))
        trainer = MultiSceneTrainer(_config(data, out / scene_optimizer, scene_optimizer))
        trainer.train()
        if rank == 0:
            torch.save({k: v.detach().clone() for k, v in trainer.field.state_dict().items()}, out / f"{scene_optimizer}.pt")
        torch.distributed.destroy_process_group()


def test_two_gloo_processes_match_one(tmp_path):
    """With each scene optimiser (adam, row-adam, lazy-adam)."""
    from latent_atlas.data.synth.writer import SynthConfig, synthesize

    data = tmp_path / "cars"
    synthesize(SynthConfig(output=data, family="cars", num_scenes=4, resolution=16, num_train=4, num_val=1, num_test=1, seed=2, supersample=1))
    attempt = _spawn_two(_worker, lambda attempt: (data, tmp_path / f"two-{attempt}", (_free_port(), _free_port())))
    for scene_optimizer in SCENE_OPTIMIZERS:
        single = MultiSceneTrainer(_config(data, tmp_path / "one" / scene_optimizer, scene_optimizer))
        single.train()
        two = torch.load(tmp_path / f"two-{attempt}" / f"{scene_optimizer}.pt")
        for key, value in single.field.state_dict().items():
            torch.testing.assert_close(two[key], value, atol=1e-4, rtol=1e-3, msg=f"{scene_optimizer}: {key}")
        runs = list((tmp_path / f"two-{attempt}" / scene_optimizer / "dist" / "triplanes").iterdir())
        assert len(runs) == 1 and (runs[0] / "summary.json").is_file()  # one run folder, written by rank 0


def _sharded_worker(rank: int, world_size: int, port: int, data, run_dir, kill_at, result_prefix) -> None:
    """One rank of a scenes-parallel run in `run_dir` (started or resumed); rank 1 dies before step `kill_at`."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size), LATLAS_DIST_TIMEOUT="30")
    torch.set_num_threads(1)
    cfg = _config(data, run_dir.parent)
    cfg.parallel, cfg.resume, cfg.checkpoint_every_seconds, cfg.scenes_per_batch = "scenes", run_dir, 0.0, 2
    trainer = MultiSceneTrainer(cfg)
    if kill_at is not None and rank == 1:
        step = trainer.train_step

        def dying_step():
            if trainer.step == kill_at:
                os._exit(3)  # a killed rank: no clean-up, no checkpoint
            return step()

        trainer.train_step = dying_step
    trainer.train()
    torch.save({"field": trainer.field.state_dict(), "names": trainer.rgb_set.names, "steps": trainer.step}, f"{result_prefix}-{rank}.pt")
    torch.distributed.destroy_process_group()


def test_scene_sharded_run_resumes_after_a_killed_rank(tmp_path):
    """Scenes-parallel: each rank holds only its scenes; a run whose rank died resumes to the same result."""
    from latent_atlas.data.synth.writer import SynthConfig, synthesize

    data = tmp_path / "cars"
    synthesize(SynthConfig(output=data, family="cars", num_scenes=4, resolution=16, num_train=4, num_val=1, num_test=1, seed=2, supersample=1))
    whole = tmp_path / "whole" / "run"
    _spawn_two(_sharded_worker, lambda attempt: (data, whole, None, tmp_path / "whole"))  # a retry resumes
    killed = tmp_path / "killed" / "run"
    try:
        mp.spawn(_sharded_worker, args=(2, _free_port(), data, killed, 3, tmp_path / "killed"), nprocs=2, join=True)
        raise AssertionError("the run with a killed rank finished")
    except mp.ProcessExitedException:
        pass
    except mp.ProcessRaisedException:  # rank 0 saw its peer vanish
        pass
    assert (killed / "checkpoints" / "step-0000003.json").is_file()
    _spawn_two(_sharded_worker, lambda attempt: (data, killed, None, tmp_path / "resumed"))
    for rank in range(2):
        a, b = torch.load(tmp_path / f"whole-{rank}.pt"), torch.load(tmp_path / f"resumed-{rank}.pt")
        assert a["names"] == b["names"] and len(a["names"]) == 2  # each rank holds its two scenes only
        assert a["field"]["table.planes"].shape[0] == 2
        assert a["steps"] == b["steps"] > 3
        for key, value in a["field"].items():
            torch.testing.assert_close(b["field"][key], value, atol=1e-6, rtol=1e-5, msg=key)
    assert torch.load(tmp_path / "whole-0.pt")["names"] != torch.load(tmp_path / "whole-1.pt")["names"]
    summary = json.loads((whole / "summary.json").read_text())
    assert summary["scenes"] == 4 and summary["parallel"] == "scenes" and len(summary["per_scene"]) == 4
