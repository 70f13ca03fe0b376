"""Every bad input of the drill's corpus: exit 2, one line naming the file or flag, no traceback, nothing
written outside the output folder (tests/reliability/bad_inputs.py lists the cases)."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.reliability.bad_inputs import Case, bad_input_cases, run_drill, run_latlas

CASES = bad_input_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_clean_line(kit, case: Case):
    [(case, outcome, stray)] = run_drill(kit, [case])
    assert outcome.verdict == "clean", f"{outcome.verdict} (exit {outcome.code}): {outcome.escaped or outcome.stderr}"
    assert case.names.lower() in outcome.stderr.lower(), f"the error does not name {case.names!r}: {outcome.stderr}"
    assert not stray, f"written outside the output folder: {stray}"


@pytest.mark.parametrize("command", ["eval", "render", "resume"])
def test_damaged_newest_checkpoint_falls_back_for_every_command(kit, tmp_path, command):
    """A newest checkpoint cut in half (a full disk, a kill mid-copy): eval, render and resume warn in one line
    and use the checkpoint before it."""
    run = tmp_path / "run"
    shutil.copytree(kit.run, run)
    newest = run / "checkpoints" / "step-0000004.safetensors"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    argv = {"eval": ["eval", "--run", str(run)], "render": ["render", "--run", str(run), "--frames", "1"], "resume": ["train", "--resume", str(run)]}
    outcome = run_latlas(argv[command])
    assert outcome.code == 0, outcome.stderr
    warnings = [line for line in outcome.stderr.splitlines() if line.startswith("latlas: warning:")]
    assert len(warnings) == 1 and "step-0000004.safetensors: checkpoint cut short or damaged" in warnings[0]
    if command == "eval":
        assert json.loads((run / "eval" / "metrics.json").read_text())["step"] == 2
    if command == "resume":
        assert json.loads((run / "summary.json").read_text())["steps"] == 4  # steps 3-4 trained again
