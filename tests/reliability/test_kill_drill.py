"""SIGKILL (or SIGTERM) at random moments (with a checkpoint every step, many mid-write), resume, repeat: no
resume fails, at most one checkpoint interval is lost per kill, and the finished run's weights equal an
uninterrupted run's bit for bit."""

from __future__ import annotations

import json
import shutil
import signal

import pytest

from tests.reliability.kill_drill import kill_drill, reference_run


def _family(kit, tmp_path):
    family = tmp_path / "family"
    for name in ("scene_000", "scene_001", "scene_002"):
        shutil.copytree(kit.scene, family / name)
    (family / "dataset_map.json").write_text(json.dumps({"cars": ["scene_000", "scene_001", "scene_002"]}))
    return family


def _start(kind: str, kit, tmp_path) -> list[str]:
    every_step = ["--checkpoint-every", "1", "--log-every", "1", "--no-progress", "--eval-every", "0"]
    if kind == "scene":
        return ["train", "tiny-nerf", "--data", str(kit.scene), "--max-steps", "35", "--rays-per-batch", "128", "--eval-images", "1", *every_step]
    return ["triplanes", "--data", str(_family(kit, tmp_path)), "--phases.0.epochs", "10", "--rays-per-view", "64", "--scenes-per-batch", "1", *every_step]


@pytest.fixture(scope="module")
def references(kit, tmp_path_factory):
    """One uninterrupted run per kind, shared by the SIGKILL and SIGTERM drills (the same command)."""
    root = tmp_path_factory.mktemp("references")
    starts = {kind: _start(kind, kit, root) for kind in ("scene", "many-scene")}
    return {kind: (start, reference_run(start, root / kind)) for kind, start in starts.items()}


@pytest.mark.parametrize(
    ("kind", "sig"),
    [("scene", signal.SIGKILL), ("many-scene", signal.SIGKILL), ("scene", signal.SIGTERM)],
    ids=["scene-SIGKILL", "many-scene-SIGKILL", "scene-SIGTERM"],
)
def test_kill_and_resume_is_exact(references, tmp_path, kind, sig):
    start, reference = references[kind]
    report = kill_drill(start, tmp_path / "killed", reference, kills=2, seed=1, sig=sig)
    assert report.kills >= 2, "the run finished before the drill could kill it"
    assert report.resumes_ok == report.kills
    assert report.max_lost <= 1, report.lost_steps  # checkpoints every step: at most the step in flight is lost
    assert report.identical, f"final tensors differ from the uninterrupted run: {report.differing[:5]}"
