"""The header line every benchmark table carries: CPU model (lscpu), cores, torch version and threads, date."""

from __future__ import annotations

import os
import platform
import subprocess
import time


def cpu_model() -> str:
    """The CPU's model name as lscpu reports it (platform.processor() where lscpu is absent)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_line() -> str:
    """'# <CPU model> | N cores | torch X, T threads | date'."""
    import torch

    return f"# {cpu_model()} | {os.cpu_count()} cores | torch {torch.__version__}, {torch.get_num_threads()} threads | {time.strftime('%Y-%m-%d')}"
