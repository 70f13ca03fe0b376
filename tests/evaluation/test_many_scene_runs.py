"""`latlas eval` and `latlas render` reach many-scene runs: per-scene metrics, any scene's orbit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latent_atlas.cli.main import main
from latent_atlas.data.synth.writer import SynthConfig, synthesize

SMALL = ["--no-progress", "--n-samples", "8", "--n-importance", "8", "--eval-views", "1"]


@pytest.fixture(scope="module")
def cars(tmp_path_factory):
    """Four 16x16 car scenes (a family with dataset_map.json)."""
    root = tmp_path_factory.mktemp("cars")
    synthesize(SynthConfig(output=root, family="cars", num_scenes=4, resolution=16, num_train=4, num_val=1, num_test=2, seed=5, supersample=1))
    return root


def _run_folder(out: str) -> Path:
    return Path(out.strip().splitlines()[-1].split("run folder: ")[1])


def test_eval_of_a_triplanes_run_gives_per_scene_metrics(cars, tmp_path, capsys):
    assert main(["triplanes", "--data", str(cars), "--output-dir", str(tmp_path), "--phases.0.epochs", "20", "--rays-per-view", "128", *SMALL]) == 0
    run = _run_folder(capsys.readouterr().out)
    assert main(["eval", "--run", str(run), "--device", "cpu"]) == 0
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    assert metrics["task"] == "multi-scene" and metrics["space"] == "rgb"
    assert [row["scene"] for row in metrics["per_scene"]] == ["scene_000", "scene_001", "scene_002", "scene_003"]
    assert len(metrics["per_image"]) == 8  # 2 test views x 4 scenes
    summary = json.loads((run / "summary.json").read_text())
    # the training summary scored test view 0 of each scene the same way: eval agrees on it
    first_views = [row["psnr"] for row in metrics["per_image"] if row["image"].endswith("r_0.png")]
    assert abs(sum(first_views) / 4 - summary["eval"]["psnr_e"]) < 1e-3, (first_views, summary["eval"])
    assert (run / "eval" / "renders" / "scene_002" / "r_1_dashboard.png").is_file()


def test_render_any_scene_of_a_stage2_run(cars, tmp_path, capsys):
    args = ["--data", str(cars), "--output-dir", str(tmp_path), "--ae-preset", "tiny", *SMALL]
    assert main(["scale", "stage1", *args, "--num-scenes", "2", "--phases.0.epochs", "1", "--phases.1.epochs", "1"]) == 0
    stage1 = _run_folder(capsys.readouterr().out)
    assert main(["scale", "stage2", *args, "--init", str(stage1), "--phases.0.epochs", "1", "--phases.1.epochs", "1"]) == 0
    stage2 = _run_folder(capsys.readouterr().out)
    gifs = {}
    for scene in ("0", "3"):
        gif_path = tmp_path / f"orbit{scene}.gif"
        assert main(["render", "--run", str(stage2), "--scene", scene, "--frames", "2", "--format", "gif", "--output", str(gif_path), "--device", "cpu"]) == 0
        with Image.open(gif_path) as gif:
            assert gif.n_frames == 2 and gif.size == (16, 16)  # decoded to RGB at the images' size
            gifs[scene] = np.asarray(gif.convert("RGB"), dtype=np.float32)
    assert np.abs(gifs["0"] - gifs["3"]).mean() > 1.0  # two different scenes, not the same one twice
    assert main(["render", "--run", str(stage2), "--scene", "4", "--frames", "2"]) == 2
    assert "--scene 4: this run has 4 scene(s)" in capsys.readouterr().err
