"""The `latlas` command: subcommands work, bad input gives one error line and exit code 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import save_file

from latent_atlas.cli.main import main
from latent_atlas.spaces.autoencoder_kl import AutoencoderKL, AutoencoderKLConfig


def _run(*args):
    return subprocess.run([sys.executable, "-m", "latent_atlas.cli.main", *args], capture_output=True, text=True, timeout=300)


def test_unknown_method_is_one_line_exit_2(micro_scene):
    proc = _run("train", "nerf-9000", "--data", str(micro_scene))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "unknown method 'nerf-9000'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_data_is_one_line_exit_2(micro_scene, tmp_path):
    proc = _run("train", "tiny-nerf", "--data", str(tmp_path / "missing"), "--output-dir", str(tmp_path))
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    assert "missing: scene folder not found" in proc.stderr
    proc = _run("train", "tiny-nerf", "--data", str(micro_scene), "--data-format", "colmap", "--output-dir", str(tmp_path))
    assert proc.returncode == 2 and "invalid choice 'colmap'" in proc.stderr and proc.stderr.strip().count("\n") == 0


def test_help_lists_methods_and_documents_flags(capsys):
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert "vanilla-nerf" in out and "tiny-nerf" in out
    with pytest.raises(SystemExit) as info:
        main(["train", "vanilla-nerf", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--max-steps" in out and "--data-format" in out and "Stratified samples per ray" in out


def test_train_resume_eval_render_through_cli(micro_scene, tmp_path, capsys):
    """The commands in one process (`main(argv)`): the exit-code tests above run `latlas` as a child process."""
    common = ["--output-dir", str(tmp_path), "--rays-per-batch", "64", "--no-progress"]
    assert main(["train", "tiny-nerf", "--data", str(micro_scene), "--max-steps", "6", *common]) == 0
    run_dir = capsys.readouterr().out.strip().splitlines()[-1].split("run folder: ")[1]
    assert main(["train", "--resume", run_dir, "--max-steps", "9"]) == 0
    config = json.loads((tmp_path / "scene_000" / "tiny-nerf").joinpath(run_dir.split("/")[-1], "config.json").read_text())
    assert config["method"]["max_steps"] == 9 and config["method"]["rays_per_batch"] == 64
    assert main(["eval", "--run", run_dir]) == 0
    metrics = json.loads(open(f"{run_dir}/eval/metrics.json").read())
    assert metrics["step"] == 9
    capsys.readouterr()
    assert main(["render", "--run", run_dir, "--frames", "2", "--format", "gif"]) == 0
    assert capsys.readouterr().out.strip().endswith("orbit.gif")


def test_data_synth_cli(tmp_path):
    proc = _run(
        "data",
        "synth",
        "--family",
        "cars",
        "--output",
        str(tmp_path),
        "--num-scenes",
        "1",
        "--resolution",
        "8",
        "--num-train",
        "2",
        "--num-val",
        "1",
        "--num-test",
        "1",
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "scene_000" / "transforms.json").is_file()
    proc = _run("data", "synth", "--family", "planes", "--output", str(tmp_path))
    assert proc.returncode == 2 and "invalid choice 'planes' for argument '--family'" in proc.stderr


def test_latent_space_through_cli(tiny_scene, tmp_path, capsys, monkeypatch):
    """ae train (repeated --data) -> train --space latent --ae RUN -> eval with the four metric groups."""
    monkeypatch.setenv("LATLAS_CACHE_DIR", str(tmp_path / "cache"))
    assert (
        main(
            [
                "ae",
                "train",
                "--data",
                str(tiny_scene),
                "--data",
                str(tiny_scene),
                "--max-steps",
                "3",
                "--batch-size",
                "2",
                "--output-dir",
                str(tmp_path),
                "--no-progress",
            ]
        )
        == 0
    )
    ae_run = capsys.readouterr().out.strip().splitlines()[-1].split("run folder: ")[1]
    assert (
        main(
            [
                "train",
                "triplane",
                "--data",
                str(tiny_scene),
                "--space",
                "latent",
                "--ae",
                ae_run,
                "--max-steps",
                "4",
                "--rays-per-batch",
                "32",
                "--latent.decoder-start",
                "0.5",
                "--output-dir",
                str(tmp_path),
                "--no-progress",
                "--eval-every",
                "1000",
            ]
        )
        == 0
    )
    run_dir = capsys.readouterr().out.strip().splitlines()[-1].split("run folder: ")[1]
    assert main(["eval", "--run", run_dir, "--max-images", "1"]) == 0
    results = json.loads((Path(run_dir) / "eval" / "metrics.json").read_text())["results"]
    assert {"metrics_e", "metrics_d", "metrics_ae", "metrics_d_ae"} <= set(results)
    assert list((Path(run_dir) / "eval" / "renders").glob("*_dashboard.png"))


def test_bad_autoencoder_is_one_line_exit_2(tiny_scene, tmp_path, capsys):
    code = main(["train", "triplane", "--data", str(tiny_scene), "--space", "latent", "--ae", str(tmp_path / "no_such_ae"), "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "no_such_ae: not found" in err
    # a weights file whose shapes fit no preset: its GroupNorm groups are unknown (was a GroupNorm ValueError traceback)
    odd = tmp_path / "odd.safetensors"
    save_file(AutoencoderKL(AutoencoderKLConfig(block_out_channels=(12, 24), layers_per_block=1, norm_num_groups=4)).state_dict(), str(odd))
    code = main(["train", "triplane", "--data", str(tiny_scene), "--space", "latent", "--ae", str(odd), "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "odd.safetensors" in err and "fit no preset" in err, err


def test_sigterm_after_the_training_loop_exits_130_and_resumes(micro_scene, tmp_path, capsys, monkeypatch):
    """A SIGTERM while the final summary is written (after the loop, whose own handler is gone by then) ends the
    command as one inside the loop does: exit 130 with the --resume line, not the signal's default death (-15)."""
    import os
    import signal
    import time

    import latent_atlas.engine.loop as loop

    save = loop.save_json_atomic

    def killed_while_saving(path, value):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        save(path, value)

    def outside_the_command(signum, frame):  # stands for the default action (which would end pytest)
        raise AssertionError("the SIGTERM reached the handler from before the command")

    before = signal.signal(signal.SIGTERM, outside_the_command)
    try:
        monkeypatch.setattr(loop, "save_json_atomic", killed_while_saving)
        common = ["--output-dir", str(tmp_path), "--rays-per-batch", "64", "--no-progress"]
        assert main(["train", "tiny-nerf", "--data", str(micro_scene), "--max-steps", "3", *common]) == 130
        assert "continue with --resume" in capsys.readouterr().err
        assert signal.getsignal(signal.SIGTERM) is outside_the_command  # the command's handler is undone
    finally:
        signal.signal(signal.SIGTERM, before)
    monkeypatch.setattr(loop, "save_json_atomic", save)
    (run_dir,) = (tmp_path / "scene_000" / "tiny-nerf").iterdir()
    assert not (run_dir / "summary.json").exists()
    assert main(["train", "--resume", str(run_dir)]) == 0
    assert json.loads((run_dir / "summary.json").read_text())["steps"] == 3
