"""The drill's materials: a small valid scene and a finished run on it, made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from latent_atlas.data.synth.writer import SynthConfig, synthesize
from tests.reliability.bad_inputs import Kit


def make_kit(root: Path) -> Kit:
    """root/{data/scene_000, out/<run>, work}: a 16x16 'cars' scene (6 train views) and a 4-step tiny-nerf run
    with two checkpoints."""
    from latent_atlas.tasks.scene import SceneTask
    from tests.tasks.helpers import tiny_config

    cfg = SynthConfig(output=root / "data", family="cars", num_scenes=1, resolution=16, num_train=6, num_val=2, num_test=2, seed=1, supersample=1)
    scene = synthesize(cfg)[0]
    run = SceneTask(tiny_config(scene, root / "out", steps=4, rays_per_batch=32, checkpoint_every=2, eval_images=1)).train()
    (root / "work").mkdir()
    return Kit(scene=scene, run=run, work=root / "work")


@pytest.fixture(scope="session")
def kit(tmp_path_factory) -> Kit:
    return make_kit(tmp_path_factory.mktemp("drill"))
