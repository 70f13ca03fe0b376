"""The header line every benchmark table carries: CPU model (lscpu), cores, torch version and threads, date."""

from __future__ import annotations

import os
import platform
import subprocess
import time


def cpu_model() -> str:
    """The CPU's model name as lscpu reports it, with its family, model and L3 size (virtual machines often say
    only "AMD EPYC": family 25 model 17 is a Zen 4, 25/1 a Zen 3); platform.processor() where lscpu is absent."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    fields = {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in out.splitlines())}
    if "Model name" not in fields:
        return platform.processor() or platform.machine()
    details = []
    if "CPU family" in fields and "Model" in fields:
        details.append(f"family {fields['CPU family']} model {fields['Model']}")
    if "L3 cache" in fields:
        details.append(f"L3 {fields['L3 cache'].split('(')[0].strip()}")
    return fields["Model name"] + (f" ({', '.join(details)})" if details else "")


def machine_line() -> str:
    """'# <CPU model> | N cores | torch X, T threads | date', and the GPU's name where CUDA is available."""
    import torch

    gpu = f" | {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"# {cpu_model()} | {os.cpu_count()} cores | torch {torch.__version__}, {torch.get_num_threads()} threads{gpu} | {time.strftime('%Y-%m-%d')}"
