"""benchmarks/scaled.py's table arithmetic: RGB time to a PSNR, stage-2 schedules and phase split, cached-latent notes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "scaled.py"
spec = importlib.util.spec_from_file_location("scaled_benchmark", SCRIPT)
scaled = importlib.util.module_from_spec(spec)
spec.loader.exec_module(scaled)


def rgb_run(seconds: float, psnr: float) -> dict:
    return {"train_seconds_per_scene": seconds, "eval": {"psnr_e": psnr}}


def test_time_to_psnr_interpolates_between_the_bracketing_runs_and_bounds_outside_them():
    runs = [rgb_run(4.0, 25.0), rgb_run(2.0, 23.0), rgb_run(6.0, 26.0)]  # out of order on purpose
    assert scaled.time_to_psnr(runs, 24.0) == "3.00"  # halfway from 23 dB at 2 s to 25 dB at 4 s
    assert scaled.time_to_psnr(runs, 25.5) == "5.00"
    assert scaled.time_to_psnr(runs, 22.0) == "<= 2.00"  # the shortest run is already above
    assert scaled.time_to_psnr(runs, 27.0) == "> 6.00"  # the longest run stays below


def test_stage2_schedule_reads_every_form():
    assert scaled.stage2_schedule("2") == (2.0, 2.0, 0, 0)
    assert scaled.stage2_schedule("8+4") == (8.0, 4.0, 0, 0)
    assert scaled.stage2_schedule("8+4/16@256") == (8.0, 4.0, 16, 256)


def test_cached_latents_names_partly_and_wholly_cached_runs_only():
    assert scaled.cached_latents({"encoded_splits": {"cached": 48, "encoded": 144}}) == " (48 of 192 splits' latents cached)"
    assert scaled.cached_latents({"encoded_splits": {"cached": 0, "encoded": 48}}) == ""
    assert scaled.cached_latents({}) == ""
    assert scaled.preparation({"prepare_seconds_per_scene": 0.8, "encoded_splits": {"cached": 0, "encoded": 48}}) == "0.80"


def test_phase_split_cuts_the_training_time_at_the_last_logged_latent_step(tmp_path):
    rows = [{"step": 20, "phase": 0.0, "train_seconds": 10.0}, {"step": 40, "phase": 0.0, "train_seconds": 25.0}]
    rows += [{"step": 60, "phase": 1.0, "train_seconds": 60.0}, {"step": 80, "steps": 80.0, "train_seconds": 100.0}]
    (tmp_path / "metrics.jsonl").write_text("\n".join(map(scaled.json.dumps, rows)) + "\n")
    summary = {"run_dir": str(tmp_path), "train_seconds": 100.0, "train_seconds_per_scene": 4.0}
    assert scaled.phase_split(summary) == "1.00 / 3.00"  # a quarter of the 100 s in the latent phase, of 4 s per scene
    assert scaled.phase_split({**summary, "run_dir": str(tmp_path / "missing")}) == "-"


def test_time_ratio_divides_and_turns_a_bound_round():
    assert scaled.time_ratio(1.0, "4.00") == "0.25x"
    assert scaled.time_ratio(1.0, "> 4.00") == "< 0.25x"  # RGB needs more than 4 s: stage 2 takes less than a quarter
    assert scaled.time_ratio(3.0, "<= 2.00") == ">= 1.50x"
    assert scaled.time_ratio(1.266, "> 4.78") == "< 0.27x"  # 0.2649: a bound rounded up stays true ("< 0.26x" would not)
    assert scaled.time_ratio(1.0, "<= 3.00") == ">= 0.33x"  # 0.3333 rounded down
