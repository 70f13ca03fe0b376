"""benchmarks/ab_flags.py (and methods.cpu_flags): each run gets the CPU flags of the image space its own flags choose."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ab_flags.py"
spec = importlib.util.spec_from_file_location("ab_flags_benchmark", SCRIPT)
ab_flags = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ab_flags)
methods = sys.modules["methods"]  # benchmarks/methods.py, imported by ab_flags.py


def test_cpu_flags_follow_the_last_space_flag():
    rays = [
        methods.flag_value(methods.cpu_flags("tensorf", flags), "--rays-per-batch", "")
        for flags in ([], ["--space", "latent"], ["--space", "latent", "--space", "rgb"])
    ]
    assert rays == ["1024", "256", "1024"]
    assert methods.flag_value(["--space", "latent", "--rays-per-batch", "64"], "--rays-per-batch", "") == "64"
    assert methods.flag_value([], "--space", "rgb") == "rgb"


def test_a_latent_run_keeps_the_latent_cpu_flags_and_an_rgb_run_the_rgb_ones(tmp_path, monkeypatch, capsys):
    calls = {}

    def fake_run(method, data, budgets, out, eval_images, flags):
        calls[out.name] = flags
        return [{"steps": 10, "test_psnr": 20.0}]

    monkeypatch.setattr(ab_flags, "run_method", fake_run)
    monkeypatch.setattr(ab_flags, "scene_folders", lambda: {"bunny": tmp_path})
    monkeypatch.setattr(sys, "argv", ["ab_flags.py", "--runs", "bunny:tensorf", "--b=--space latent", "--output-dir", str(tmp_path)])
    ab_flags.main()
    rgb, latent = calls["bunny_tensorf_A"], calls["bunny_tensorf_B"]
    # tensorf on a CPU: 1024 rays and grids up to 128^3 in RGB; 256 rays and 64^3 in latent space (defaults.py)
    last = methods.flag_value
    assert (last(rgb, "--rays-per-batch", ""), last(rgb, "--model.final-resolution", "")) == ("1024", "128")
    assert (last(latent, "--rays-per-batch", ""), last(latent, "--model.final-resolution", "")) == ("256", "64")
    assert "| bunny | tensorf | 10 | 20.0 | 10 | 20.0 | 0.0 |" in capsys.readouterr().out
