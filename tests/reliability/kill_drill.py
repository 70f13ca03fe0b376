"""Kill drill: start a `latlas` run, SIGKILL it at random moments (checkpoints are written every step, so many
kills land mid-write), resume it each time with `latlas train --resume RUN`, and compare the finished run's
final checkpoint with an uninterrupted run's. Used by tests/reliability/test_kill_drill.py and
benchmarks/reliability.py."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file

from latent_atlas.engine.checkpoints import latest_checkpoint


@dataclass
class KillReport:
    kills: int = 0
    resumes_ok: int = 0
    lost_steps: list[int] = field(default_factory=list)
    """Per kill: the last step logged before the kill minus the step the resume started from."""
    identical: bool = False
    """Whether every tensor of the final checkpoint equals the uninterrupted run's, bit for bit."""
    differing: list[str] = field(default_factory=list)

    @property
    def max_lost(self) -> int:
        return max(self.lost_steps, default=0)


def _latlas(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "latent_atlas.cli.main", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _run_folder(output: Path) -> Path | None:
    found = sorted(output.glob("*/*/*/config.json"))
    return found[0].parent if found else None


def _last_logged_step(run: Path) -> int:
    """The last complete line of metrics.jsonl (a kill can cut the last one short)."""
    step = 0
    path = run / "metrics.jsonl"
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            step = max(step, int(json.loads(line)["step"]))
        except (ValueError, KeyError, TypeError):
            continue
    return step


def _checkpoint_step(run: Path) -> int:
    last = latest_checkpoint(run / "checkpoints")
    return int(json.loads(last.read_text())["step"]) if last else 0


def _final_tensors(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(latest_checkpoint(run / "checkpoints").with_suffix(".safetensors")))


def kill_drill(
    start: list[str], output: Path, reference: Path, kills: int, seed: int = 0, timeout: float = 300.0, sig: signal.Signals = signal.SIGKILL
) -> KillReport:
    """Runs `latlas *start --output-dir output`, stopping it `kills` times with `sig` (SIGKILL, or SIGTERM: the
    run saves the step boundary and exits 130) and resuming it, until it finishes; `reference` is an
    uninterrupted run folder of the same command. Flags in `start` must make it checkpoint every step and
    log every step (--checkpoint-every 1 --log-every 1)."""
    rng = random.Random(seed)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    report = KillReport()
    proc = _latlas([*start, "--output-dir", str(output)], env)
    deadline = time.monotonic() + timeout
    resumed_from = -1
    while report.kills < kills and time.monotonic() < deadline:
        run = _run_folder(output)
        target = resumed_from + rng.randint(1, 4)  # steps of its own before the kill: it lands in training on any CPU speed
        while proc.poll() is None and (run is None or _checkpoint_step(run) < max(target, 1)) and time.monotonic() < deadline:
            time.sleep(0.005)
            run = _run_folder(output)
        time.sleep(rng.uniform(0.0, 0.02))  # somewhere in the next step
        if proc.poll() is not None:
            break  # it finished (or failed) before the kill
        proc.send_signal(sig)
        proc.wait()
        if sig != signal.SIGKILL and proc.returncode not in (130, 0):
            raise RuntimeError(f"{sig.name} ended the run with exit {proc.returncode}: {proc.stderr.read().strip()[-300:]}")
        report.kills += 1
        resumed_from = _checkpoint_step(run)
        report.lost_steps.append(max(0, _last_logged_step(run) - resumed_from))
        proc = _latlas(["train", "--resume", str(run)], env)
    _, err = proc.communicate(timeout=max(deadline - time.monotonic(), 1.0))
    if proc.returncode != 0:
        raise RuntimeError(f"a resume failed (exit {proc.returncode}): {err.strip()[-500:]}")
    report.resumes_ok = report.kills
    final, expected = _final_tensors(_run_folder(output)), _final_tensors(reference)
    report.differing = sorted(k for k in expected.keys() | final.keys() if k not in final or k not in expected or not torch.equal(final[k], expected[k]))
    report.identical = not report.differing
    return report


def reference_run(start: list[str], output: Path) -> Path:
    """The same command without interruption; its run folder."""
    proc = subprocess.run(
        [sys.executable, "-m", "latent_atlas.cli.main", *start, "--output-dir", str(output)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"reference run failed: {proc.stderr.strip()[-500:]}")
    return _run_folder(output)
