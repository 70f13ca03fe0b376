"""Memory per scene of stage 2 and RGB Tri-Planes, with the views in memory and on disk (`--views disk`).

    python benchmarks/views_memory.py --data CARS --init STAGE1 --sizes 16 64 256 --micro-macro 4 12

For each size N: a short stage 2 (0.5 + 0.25 epochs) and a short RGB Tri-Planes run (1 epoch) on the first N
scenes of CARS (a `latlas data synth` family), once with `--views memory` and once with `--views disk`. The
runs are short: views and per-scene state are made at the start, and a step's activations are the same at every
step; the process peak also holds the allocator's slack, which grows with the steps (sessions 51-52: 60 MiB after
60 steps, 130 after 960), so live memory is the cleaner measure per scene. Printed: each run's process peak and live memory (resident
after training once the C heap's free pages are handed back: what its tensors hold, without the allocator's slack),
and memory per scene: the growth of each from the smallest to the largest size divided by the scenes added (what a
run holds per scene, without the fixed cost of the process, autoencoder and a batch's activations).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_line  # noqa: E402
from scaled import run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="a family of synthesized scenes (latlas data synth)")
    parser.add_argument("--init", type=Path, required=True, help="a stage-1 run folder (latlas scale stage1)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--micro-macro", type=int, nargs=2, default=[4, 12], metavar=("MICRO", "MACRO"), help="stage 2's plane channels (as stage 1's)")
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/benchmarks/views-memory"))
    parser.add_argument("--fresh", action="store_true", help="train every run again (default: reuse finished runs of the same name)")
    args = parser.parse_args()
    out, planes = str(args.output_dir), ["--micro-macro.micro-channels", str(args.micro_macro[0]), "--micro-macro.macro-channels", str(args.micro_macro[1])]
    common = ["--data", str(args.data), "--rays-per-view", "256", "--eval-views", "1", "--output-dir", out]
    runs: dict[tuple[str, str, int], dict] = {}
    for size in sorted(args.sizes):
        for views in ("memory", "disk"):
            name = f"{size}-{views}"
            runs["stage 2", views, size] = run(
                "scale", "stage2", *common, "--num-scenes", str(size), "--init", str(args.init), "--phases.0.epochs", "0.5", "--phases.1.epochs", "0.25",
                "--decoded-crop", "16", *planes, "--views", views, "--experiment-name", f"stage2-{name}", reuse=not args.fresh,
            )  # fmt: skip
            runs["RGB Tri-Planes", views, size] = run(
                "triplanes", *common, "--num-scenes", str(size), "--phases.0.epochs", "1", "--views", views, "--experiment-name", f"rgb-{name}",
                reuse=not args.fresh,
            )  # fmt: skip
    print(f"\n{machine_line()}\n")
    print("| scenes | run | views | process peak | live memory | PSNR (decoded / RGB) | parameters + Adam per scene |")
    print("|---|---|---|---|---|---|---|")
    for (method, views, size), s in sorted(runs.items(), key=lambda item: (item[0][2], item[0][0], item[0][1])):
        psnr = s["eval"].get("psnr_d", s["eval"]["psnr_e"])
        live = f"{s['live_memory_mb']:.0f} MiB" if "live_memory_mb" in s else "-"
        print(f"| {size} | {method} | {views} | {s['peak_memory_mb']:.0f} MiB | {live} | {psnr:.2f} | {s['scene_memory_mb']:.3f} MiB |")
    low, high = min(args.sizes), max(args.sizes)
    if low == high:
        return
    for key, label in (("peak_memory_mb", "process peak"), ("live_memory_mb", "live memory")):
        if not all(key in r for r in runs.values()):
            continue
        per_scene = {(m, v): (runs[m, v, high][key] - runs[m, v, low][key]) / (high - low) for m, v, _ in runs}
        print(f"\nMemory per scene ({label}: its growth from {low} to {high} scenes, per scene added):\n")
        print("| views | stage 2 | RGB Tri-Planes | stage 2 / RGB | stage 2 / RGB with its views in memory |")
        print("|---|---|---|---|---|")
        for views in ("memory", "disk"):
            s2, rgb = per_scene["stage 2", views], per_scene["RGB Tri-Planes", views]
            print(f"| {views} | {s2:.3f} MiB | {rgb:.3f} MiB | {s2 / rgb:.2f}x | {s2 / per_scene['RGB Tri-Planes', 'memory']:.2f}x |")
    peak = {(m, v): runs[m, v, high]["peak_memory_mb"] for m, v, _ in runs}
    print(
        f"\nProcess peak at {high} scenes, stage 2 / RGB: {peak['stage 2', 'disk'] / peak['RGB Tri-Planes', 'disk']:.2f}x (both on disk), "
        f"{peak['stage 2', 'disk'] / peak['RGB Tri-Planes', 'memory']:.2f}x (stage 2 on disk, RGB in memory), "
        f"{peak['stage 2', 'memory'] / peak['RGB Tri-Planes', 'memory']:.2f}x (both in memory)"
    )


if __name__ == "__main__":
    main()
