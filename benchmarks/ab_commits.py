"""Two checkouts of latent-atlas side by side at equal steps: test PSNR of each method, old vs new, in one run.

    git worktree add /tmp/old <commit>
    python benchmarks/ab_commits.py --old /tmp/old --steps 300 --ae <ae run>   # tensorf, instant-ngp, latent triplane

Every run trains the same number of steps through each checkout's `latlas` CLI with the CPU flags of
benchmarks/methods.py, alternating old and new, then scores the first --eval-images test views with that
checkout's `latlas eval`. Prints a table with the machine's CPU model, torch version and thread count.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_line  # noqa: E402
from methods import cpu_flags  # noqa: E402
from train_budget import QUIET_RUN, latlas  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUNNY = ROOT.parent / "shared" / "datasets" / "objects128" / "bunny"


def run(checkout: Path, method: str, extra: list[str], steps: int, out: Path, eval_images: int) -> dict:
    args = [
        "train",
        method,
        "--data",
        str(BUNNY),
        "--output-dir",
        str(out),
        "--max-steps",
        str(steps),
        *QUIET_RUN,
        "--device",
        "cpu",
        *cpu_flags(method, extra),
        *extra,
    ]
    started = time.time()
    stdout = latlas(*args, checkout=checkout)
    wall = time.time() - started
    run_dir = Path(stdout.strip().splitlines()[-1].split("run folder: ")[1])
    if not run_dir.is_absolute():
        run_dir = checkout / run_dir
    summary = json.loads((run_dir / "summary.json").read_text())
    latlas("eval", "--run", str(run_dir), "--max-images", str(eval_images), "--no-save-images", "--device", "cpu", checkout=checkout)
    result = json.loads((run_dir / "eval" / "metrics.json").read_text())["results"]
    return {"steps": summary["steps"], "train_s": summary["train_seconds"], "wall_s": wall, "psnr": result["psnr"], "ssim": result["ssim"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, required=True, help="checkout of the old commit")
    parser.add_argument("--new", type=Path, default=ROOT)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--eval-images", type=int, default=10)
    parser.add_argument("--ae", type=Path, help="autoencoder run for the latent triplane row (skipped without)")
    parser.add_argument("--output-dir", type=Path, default=Path("/tmp/latlas-ab"))
    args = parser.parse_args()
    cases = [("tensorf", "rgb", []), ("instant-ngp", "rgb", [])]
    if args.ae:
        cases.append(("triplane", "latent", ["--space", "latent", "--ae", str(args.ae.resolve())]))
    print(machine_line(), flush=True)
    print(f"objects128/bunny, {args.steps} steps each, first {args.eval_images} test views\n", flush=True)
    print("| method | space | old PSNR | new PSNR | new - old (dB) | old s/step | new s/step |")
    print("|---|---|---|---|---|---|---|", flush=True)
    for method, space, extra in cases:
        rows = {}
        for label, checkout in (("old", args.old.resolve()), ("new", args.new.resolve())):
            rows[label] = run(checkout, method, extra, args.steps, args.output_dir / label, args.eval_images)
        o, n = rows["old"], rows["new"]
        print(
            f"| {method} | {space} | {o['psnr']:.2f} | {n['psnr']:.2f} | {n['psnr'] - o['psnr']:+.2f} | {o['train_s'] / o['steps']:.3f} | {n['train_s'] / n['steps']:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
