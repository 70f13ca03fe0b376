"""Run folders: created atomically (two runs in one second never share one), confined under --output-dir,
config.json with absolute paths, metrics.jsonl without repeated steps after a resume."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from latent_atlas.engine.config import RunConfig
from latent_atlas.engine.logger import drop_entries_after
from latent_atlas.engine.run_dir import new_run_dir, read_config, save_config
from latent_atlas.errors import ConfigError
from latent_atlas.tasks.scene import SceneTask
from tests.tasks.helpers import tiny_config


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path):
    def start(_):
        return new_run_dir(RunConfig(output_dir=tmp_path, timestamp="2026-11-30_120000"), "exp", "tiny-nerf")

    with ThreadPoolExecutor(8) as pool:
        folders = list(pool.map(start, range(16)))
    assert len(set(folders)) == 16
    assert sorted(f.name for f in folders)[:2] == ["2026-11-30_120000", "2026-11-30_120000-1"]


@pytest.mark.parametrize("name", ["../../escaped", "/abs", "..", "a/b"])
def test_experiment_name_cannot_leave_the_output_folder(tmp_path, name):
    with pytest.raises(ConfigError, match="a folder name, not a path"):
        new_run_dir(RunConfig(output_dir=tmp_path, experiment_name=name), "exp", "kind")


def test_config_stores_absolute_paths(micro_scene, tmp_path):
    here = os.getcwd()
    os.chdir(micro_scene.parent)
    try:
        cfg = tiny_config(micro_scene.relative_to(micro_scene.parent), tmp_path, steps=1)
        run = tmp_path / "run"
        run.mkdir()
        save_config(run, "scene", cfg)
    finally:
        os.chdir(here)
    saved = read_config(run)
    assert saved["data"] == str(micro_scene) and os.path.isabs(saved["output_dir"])


def test_resumed_run_does_not_repeat_logged_steps(micro_scene, tmp_path):
    run = SceneTask(tiny_config(micro_scene, tmp_path, steps=6, rays_per_batch=32, checkpoint_every=3, log_every=1)).train()
    (run / "checkpoints" / "step-0000006.json").unlink()  # killed after logging steps 4-6, before their checkpoint
    (run / "metrics.jsonl").open("a").write('{"step": 7, "loss": 0.1')  # and mid-line
    SceneTask(tiny_config(micro_scene, tmp_path, steps=6, rays_per_batch=32, checkpoint_every=3, log_every=1, resume=run)).train()
    entries = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in entries if "loss" in e] == [1, 2, 3, 4, 5, 6]  # steps 4-6 once, from the resumed run


def test_drop_entries_after_keeps_earlier_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n{"step": 2}\nnot json\n{"step": 3}\n')
    drop_entries_after(path, 2)
    assert path.read_text() == '{"step": 1}\n{"step": 2}\n'
