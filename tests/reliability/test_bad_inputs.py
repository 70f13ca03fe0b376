"""Every bad input of the drill's corpus: exit 2, one line naming the file or flag, no traceback, nothing
written outside the output folder (tests/reliability/bad_inputs.py lists the cases)."""

from __future__ import annotations

import pytest

from tests.reliability.bad_inputs import Case, bad_input_cases, run_drill

CASES = bad_input_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_clean_line(kit, case: Case):
    [(case, outcome, stray)] = run_drill(kit, [case])
    assert outcome.verdict == "clean", f"{outcome.verdict} (exit {outcome.code}): {outcome.escaped or outcome.stderr}"
    assert case.names.lower() in outcome.stderr.lower(), f"the error does not name {case.names!r}: {outcome.stderr}"
    assert not stray, f"written outside the output folder: {stray}"
