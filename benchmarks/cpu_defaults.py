"""`latlas train M --max-time T` with no other flag against the same method with benchmarks/methods.py's flags, side by side.

    python benchmarks/cpu_defaults.py --budget 120 --eval-images 10

On a CPU the defaults of `latlas train` are those flags (latent_atlas/methods/defaults.py), so the two columns
should agree up to run-to-run timing noise; a regression in the defaults shows as a gap.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_line  # noqa: E402
from train_budget import latlas  # noqa: E402

from latent_atlas.methods.defaults import CPU_FLAGS  # noqa: E402

BUNNY = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "objects128" / "bunny"


def train_and_score(method: str, flags: list[str], budget: float, out: Path, eval_images: int) -> dict:
    stdout = latlas("train", method, "--data", str(BUNNY), "--output-dir", str(out), "--max-time", str(budget), "--no-progress", *flags)
    run_dir = Path(stdout.strip().splitlines()[-1].split("run folder: ")[1])
    summary = json.loads((run_dir / "summary.json").read_text())
    latlas("eval", "--run", str(run_dir), "--max-images", str(eval_images), "--no-save-images")
    result = json.loads((run_dir / "eval" / "metrics.json").read_text())["results"]
    return {"steps": summary["steps"], "psnr": result["psnr"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=["tensorf", "instant-ngp", "nerfacto", "kplanes"])
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--eval-images", type=int, default=10)
    parser.add_argument("--output-dir", type=Path, default=Path("/tmp/latlas-cpu-defaults"))
    parser.add_argument("--flags-first", action="store_true", help="train the methods.py-flags run before the no-flags one (order effects)")
    args = parser.parse_args()
    print(machine_line(), flush=True)
    print(f"objects128/bunny, {args.budget:g} s of training each, first {args.eval_images} test views\n", flush=True)
    print("| method | no flags: steps | no flags: PSNR | methods.py flags: steps | methods.py flags: PSNR | difference (dB) |")
    print("|---|---|---|---|---|---|", flush=True)
    for method in args.methods:
        runs = {"bare": [], "flags": list(CPU_FLAGS.get(method, ()))}
        order = ["flags", "bare"] if args.flags_first else ["bare", "flags"]
        scores = {name: train_and_score(method, runs[name], args.budget, args.output_dir / name, args.eval_images) for name in order}
        bare, flagged = scores["bare"], scores["flags"]
        print(
            f"| {method} | {bare['steps']} | {bare['psnr']:.2f} | {flagged['steps']} | {flagged['psnr']:.2f} | {bare['psnr'] - flagged['psnr']:+.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
