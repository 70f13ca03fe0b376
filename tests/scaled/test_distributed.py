"""Two gloo processes train to the same planes and decoder as one process (within float tolerance)."""

from __future__ import annotations

import os
import socket

import torch
import torch.multiprocessing as mp

from latent_atlas.scaled.presets import scaled_preset
from latent_atlas.scaled.trainer import MultiSceneTrainer


def _config(data, out):
    cfg = scaled_preset("triplanes-rgb-cpu")
    cfg.data, cfg.output_dir, cfg.progress, cfg.eval_views = (data,), out, False, 1
    cfg.n_samples, cfg.n_importance, cfg.rays_per_view, cfg.perturb = 8, 8, 32, False
    cfg.phases[0].epochs = 2.0
    cfg.experiment_name = "dist"
    return cfg


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, data, out, result_path) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size))
    torch.set_num_threads(1)
    trainer = MultiSceneTrainer(_config(data, out))
    trainer.train()
    if rank == 0:
        torch.save({k: v.detach().clone() for k, v in trainer.field.state_dict().items()}, result_path)
    torch.distributed.destroy_process_group()


def test_two_gloo_processes_match_one(tmp_path):
    from latent_atlas.data.synth.writer import SynthConfig, synthesize

    data = tmp_path / "cars"
    synthesize(SynthConfig(output=data, family="cars", num_scenes=4, resolution=16, num_train=4, num_val=1, num_test=1, seed=2, supersample=1))
    single = MultiSceneTrainer(_config(data, tmp_path / "one"))
    single.train()
    result = tmp_path / "two.pt"
    mp.spawn(_worker, args=(2, _free_port(), data, tmp_path / "two", result), nprocs=2, join=True)
    two = torch.load(result)
    for key, value in single.field.state_dict().items():
        torch.testing.assert_close(two[key], value, atol=1e-4, rtol=1e-3, msg=key)
    runs = list((tmp_path / "two" / "dist" / "triplanes-rgb").iterdir())
    assert len(runs) == 1 and (runs[0] / "summary.json").is_file()  # one run folder, written by rank 0
