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

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "objects128"

CPU_HASH_GRID = ["--model.field.hash-grid.n-levels", "8", "--model.field.hash-grid.log2-hashmap-size", "17", "--model.field.hash-grid.max-resolution", "512"]
"""A CPU-sized hash grid: 8 levels up to 512, 2^17 entries per level (128-pixel images)."""
CPU_PROPOSAL = ["--rays-per-batch", "1024", "--background", "white", "--model.proposal-samples", "64", "32", "--model.nerf-samples", "32", "--model.anneal-steps", "200"]
"""Proposal methods at CPU size: 1024 rays, 64 + 32 proposal samples and 32 field samples per ray (the defaults,
256 + 96 + 48 on 4096 rays, ran 29 steps in 180 s), a shorter proposal anneal."""

METHOD_FLAGS = {
    # the peer run's settings (official TensoRF on this CPU): 64^3 -> 200^3 grids, 1024 rays, white background
    "tensorf": ["--model.initial-resolution", "64", "--model.final-resolution", "200", "--rays-per-batch", "1024", "--background", "white"],
    # nerfacc-style dynamic batch: a fixed number of samples per step instead of a fixed number of rays,
    # 256 steps per box diagonal and a 64^3 occupancy grid
    "instant-ngp": ["--rays-per-batch", "1024", "--samples-per-batch", "65536", "--model.occupancy-resolution", "64", "--background", "white",
                    "--model.steps-per-diagonal", "256", *CPU_HASH_GRID],
    "nerfacto": [*CPU_PROPOSAL, *CPU_HASH_GRID],
    "kplanes": [*CPU_PROPOSAL, "--model.field.kplanes.multiscale", "1", "2", "--model.field.kplanes.features", "16"],
    "triplane": ["--background", "white"],
}
"""CPU settings per method (the registry defaults are the papers' GPU settings)."""

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
