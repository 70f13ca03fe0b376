"""benchmarks/race_table.py: stage-2 runs scored against the RGB runs of the same scene count, from run folders."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "race_table.py"
spec = importlib.util.spec_from_file_location("race_table_benchmark", SCRIPT)
race_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(race_table)


def fake_run(folder: Path, space: str, scenes: int, epochs: list[float], seconds: float, psnr: float) -> Path:
    """A run folder with the summary.json and config.json fields the table reads."""
    folder.mkdir(parents=True)
    key = "psnr_d" if space == "latent" else "psnr_e"
    summary = {"space": space, "scenes": scenes, "train_seconds_per_scene": seconds, "eval": {key: psnr}}
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "config.json").write_text(json.dumps({"phases": [{"epochs": e} for e in epochs]}))
    return folder


def test_each_stage2_run_is_scored_against_the_rgb_runs_of_its_own_size(tmp_path, monkeypatch, capsys):
    runs = [
        fake_run(tmp_path / "rgb16-8", "rgb", 16, [8], 1.0, 24.0),
        fake_run(tmp_path / "rgb16-16", "rgb", 16, [16], 2.0, 26.0),
        fake_run(tmp_path / "s2-16", "latent", 16, [4, 2], 0.5, 25.0),  # RGB reaches 25 dB at 1.5 s
        fake_run(tmp_path / "rgb64-8", "rgb", 64, [8], 1.0, 25.0),
        fake_run(tmp_path / "s2-64", "latent", 64, [4, 4], 0.8, 27.0),  # above the only RGB run of 64 scenes
        tmp_path / "unfinished",
    ]
    monkeypatch.setattr(sys, "argv", ["race_table.py", *map(str, runs)])
    race_table.main()
    lines = capsys.readouterr().out.splitlines()
    assert "| 16 | stage 2, 4 + 2 epochs | 25.00 | 0.500 | 1.50 | 0.33x |" in lines
    assert "| 64 | stage 2, 4 + 4 epochs | 27.00 | 0.800 | > 1.00 | < 0.80x |" in lines
    assert "| 16 | RGB Tri-Planes, 16 epochs | 26.00 | 2.000 | | |" in lines
    assert len(lines) == 2 + 5  # header, rule, five finished runs
