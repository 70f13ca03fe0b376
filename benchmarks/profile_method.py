"""Where a method's training step spends its time: torch.profiler over a few steps after a warm-up.

    python benchmarks/profile_method.py instant-ngp --data ../shared/datasets/objects128/bunny --warmup 100 --steps 10

Runs the method with its CPU flags from benchmarks/methods.py (more `latlas train` flags after `--`),
then prints the operators by self CPU time, the step time and the rays and samples per step.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import tyro

sys.path.insert(0, str(Path(__file__).resolve().parent))

from methods import METHOD_FLAGS  # noqa: E402

from latent_atlas.methods.registry import method_config  # noqa: E402
from latent_atlas.tasks.scene import SceneTask  # noqa: E402
from latent_atlas.tasks.scene_config import TrainConfig  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("method")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--warmup", type=int, default=100, help="steps before profiling (occupancy grids, schedules)")
    parser.add_argument("--steps", type=int, default=10, help="profiled steps")
    parser.add_argument("--rows", type=int, default=20)
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.extra = argv[split + 1 :]  # extra `latlas train` flags (after --)
    flags = METHOD_FLAGS.get(args.method, []) + ["--data", str(args.data), "--output-dir", "/tmp/latlas-profile", "--no-progress", *args.extra]
    default = TrainConfig(method_name=args.method, method=method_config(args.method))
    trainer = SceneTask(tyro.cli(TrainConfig, default=default, args=flags))
    for _ in range(args.warmup):
        trainer.train_step()
        trainer.step += 1
    rays = []
    started = time.perf_counter()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            rays.append(trainer.rays_per_batch)
            trainer.train_step()
            trainer.step += 1
    seconds = (time.perf_counter() - started) / args.steps
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))
    print(f"{args.method}: {seconds:.3f} s per profiled step (profiler on) after {args.warmup} steps; rays per step {min(rays)}-{max(rays)}")


if __name__ == "__main__":
    main()
