"""Two sets of extra flags on the same method and scene, back to back (A then B), each with the method's CPU flags for
its image space (a run whose flags say `--space latent` gets the latent CPU flags too, as `latlas train` gives them).

    python benchmarks/ab_flags.py --runs bunny:kplanes textured:nerfacto --a=--sampler=rays --b=--sampler=importance

Scenes: the shared objects128 (bunny, suzanne) and the suite's synthesized ones (textured, aircraft, table,
mixed-specular; made once under outputs/benchmarks/suite). Prints steps and test PSNR per run and B's gain;
only the pairs are comparable (the machine's speed drifts between pairs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_line  # noqa: E402
from methods import SHARED, SUITE, cpu_flags, suite_scenes  # noqa: E402
from train_budget import print_table, run_method  # noqa: E402


def scene_folders() -> dict[str, Path]:
    """Scene name -> folder: the shared objects and the suite's scenes."""
    return {"bunny": SHARED / "bunny", "suzanne": SHARED / "suzanne", **dict(zip(SUITE, suite_scenes(Path("outputs/benchmarks/suite"))))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", required=True, help="SCENE:METHOD pairs")
    parser.add_argument("--a", default="", help="extra flags of run A, '=' or space separated (e.g. --a=--sampler=rays)")
    parser.add_argument("--b", default="", help="extra flags of run B")
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--eval-images", type=int, default=10)
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/benchmarks/ab_flags"))
    args = parser.parse_args()
    folders = scene_folders()
    variants = {"A": args.a.replace("=", " ").split(), "B": args.b.replace("=", " ").split()}
    rows = []
    for pair in args.runs:
        scene, method = pair.split(":")
        result = {}
        for name, flags in variants.items():
            out = args.output_dir / f"{scene}_{method}_{name}"
            result[name] = run_method(method, folders[scene], [args.budget], out, args.eval_images, [*cpu_flags(method, flags), *flags])[-1]
        a, b = result["A"], result["B"]
        rows.append(
            {
                "scene": scene,
                "method": method,
                "A steps": a["steps"],
                "A PSNR": a["test_psnr"],
                "B steps": b["steps"],
                "B PSNR": b["test_psnr"],
                "B - A dB": round(b["test_psnr"] - a["test_psnr"], 2),
            }
        )
    print(machine_line())
    print(f"A: {' '.join(variants['A']) or '(CPU flags only)'} | B: {' '.join(variants['B']) or '(CPU flags only)'} | {args.budget:g} s each")
    print_table(rows, list(rows[0]))


if __name__ == "__main__":
    main()
