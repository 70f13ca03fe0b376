"""Every fast method on objects128/suzanne and /bunny under the same CPU time budget, side by side.

    python benchmarks/methods.py                      # 10-minute budget, 50 test views
    python benchmarks/methods.py --budgets 120 300 600 --methods tensorf
    python benchmarks/methods.py --suite --budgets 120 --eval-images 10   # + synthesized textured/thin/mixed objects

--suite adds scenes that the shared objects lack, made by `latlas data synth` at 128 px (no download):
image textures and fine patterns, thin wide structures (wings, poles), large flat surfaces filling the box,
specular highlights; and prints, per scene, the best method and how far the worst one is below it.

Prints test PSNR/SSIM at each budget, steps/s, rays/s and peak memory.
Each method runs with the CPU settings in METHOD_FLAGS (flags after `--` apply to all).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_budget import main  # noqa: E402

from latent_atlas.methods.defaults import CPU_FLAGS, device_flags  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "objects128"


def flag_value(flags: list[str], name: str, default: str) -> str:
    """The value after the last `name` in flags (the one `latlas train` keeps), else default."""
    values = [value for flag, value in zip(flags, flags[1:]) if flag == name]
    return values[-1] if values else default


def cpu_flags(method: str, flags: list[str]) -> list[str]:
    """`latlas train`'s CPU defaults of `method` in the image space that `flags` choose (their last --space, else rgb),
    to pass before `flags` (explicit, so that a CUDA machine measures the same; a latent run gets the latent ones)."""
    return list(device_flags(method, "cpu", flag_value(flags, "--space", "rgb")))


METHOD_FLAGS = {name: cpu_flags(name, []) for name in CPU_FLAGS}
"""The RGB CPU settings per method (cpu_flags of a run without --space), for the RGB-only benchmarks."""


SUITE = {  # name: (family, seed, scene index): chosen for what each shows
    "textured": ("textured", 1, 0),
    "aircraft": ("thin", 1, 2),
    "table": ("thin", 1, 0),
    "mixed-specular": ("mixed", 2, 0),  # a small car-or-object with highlights, no sky
}


def suite_scenes(root: Path) -> list[Path]:
    """The suite's scenes at 128 px (100 train, 5 val, 50 test views), synthesized once into root."""
    from train_budget import latlas

    folders = []
    for name, (family, seed, index) in SUITE.items():
        out = root / name
        if not (out / f"scene_{index:03d}" / "transforms_test.json").is_file():
            flags = ["--family", family, "--seed", str(seed), "--num-scenes", str(index + 1), "--resolution", "128"]
            latlas("data", "synth", "--output", str(out), *flags, "--num-train", "100", "--num-val", "5", "--num-test", "50")
        folders.append(out / f"scene_{index:03d}")
    return folders


if __name__ == "__main__":
    data = [SHARED / "suzanne", SHARED / "bunny"]
    if "--suite" in sys.argv:
        sys.argv.remove("--suite")
        data += suite_scenes(Path("outputs/benchmarks/suite"))
    main(
        defaults={
            "data": data,
            "methods": ["tensorf", "instant-ngp", "nerfacto", "kplanes", "triplane"],
            "budgets": [600.0],
            "eval_images": 50,
            "method_flags": METHOD_FLAGS,
        },
        description=__doc__,
    )
