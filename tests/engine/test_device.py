"""Peak memory is the run's own, not the memory of the process that started it."""

import subprocess
import sys

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux's")
def test_peak_memory_of_a_child_is_not_its_parents():
    ballast = b"\x01" * (300 * 2**20)  # the parent holds 300 MiB, written (a benchmark script that imported torch)
    code = "from latent_atlas.engine.device import resident_peak_mb; print(resident_peak_mb())"
    child_mb = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert len(ballast) and child_mb < 290, child_mb  # ru_maxrss would report >= 300 here
