"""Every fast method on objects128/suzanne and /bunny under the same CPU time budget, side by side.

    python benchmarks/methods.py                      # 10-minute budget, 50 test views
    python benchmarks/methods.py --budgets 120 300 600 --methods tensorf

Prints test PSNR/SSIM at each budget, steps/s, rays/s and peak memory.
Each method runs with the CPU settings in METHOD_FLAGS (flags after `--` apply to all).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_budget import main  # noqa: E402

from latent_atlas.methods.defaults import CPU_FLAGS  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "objects128"

METHOD_FLAGS = {name: list(flags) for name, flags in CPU_FLAGS.items()}
"""The CPU settings per method: since the CPU defaults of `latlas train` (latent_atlas/methods/defaults.py), passed
explicitly so that a run on a CUDA machine measures the same settings."""

if __name__ == "__main__":
    main(
        defaults={
            "data": [SHARED / "suzanne", SHARED / "bunny"],
            "methods": ["tensorf", "instant-ngp", "nerfacto", "kplanes", "triplane"],
            "budgets": [600.0],
            "eval_images": 50,
            "method_flags": METHOD_FLAGS,
        },
        description=__doc__,
    )
