"""Where a method's training step spends its time: torch.profiler over a few steps after a warm-up.

    python benchmarks/profile_method.py instant-ngp --data ../shared/datasets/objects128/bunny --warmup 100 --steps 10
    python benchmarks/profile_method.py triplanes-rgb-cpu --data data/cars -- --scenes-per-batch 16 --device cuda

Runs the method with `latlas train`'s CPU flags for its image space (more `latlas train` flags after `--`; with
--space latent among them, the latent CPU flags), or a
many-scene preset (`latlas triplanes` / `latlas scale stage2` ..., their flags after `--`), then prints the
operators by self time (the GPU's on CUDA), the step time and, for one scene, the rays per step.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import tyro

sys.path.insert(0, str(Path(__file__).resolve().parent))

from methods import cpu_flags  # noqa: E402

from latent_atlas.methods.registry import method_config  # noqa: E402
from latent_atlas.scaled.config import MultiSceneConfig  # noqa: E402
from latent_atlas.scaled.presets import SCALED_PRESETS, scaled_preset  # noqa: E402
from latent_atlas.tasks.multi_scene import MultiSceneTask  # noqa: E402
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
    common = ["--data", str(args.data), "--output-dir", "/tmp/latlas-profile", "--no-progress"]
    if args.method in SCALED_PRESETS:
        trainer = MultiSceneTask(tyro.cli(MultiSceneConfig, default=scaled_preset(args.method), args=common + args.extra))
    else:
        default = TrainConfig(method_name=args.method, method=method_config(args.method))
        trainer = SceneTask(tyro.cli(TrainConfig, default=default, args=cpu_flags(args.method, args.extra) + common + args.extra))
    cuda = trainer.device.type == "cuda"
    for _ in range(args.warmup):
        trainer.train_step()
        trainer.step += 1
    rays = []
    activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if cuda else [])
    if cuda:
        torch.cuda.synchronize()
    started = time.perf_counter()
    with torch.profiler.profile(activities=activities) as prof:
        for _ in range(args.steps):
            rays.append(getattr(trainer, "rays_per_batch", 0))
            trainer.train_step()
            trainer.step += 1
        if cuda:
            torch.cuda.synchronize()
    seconds = (time.perf_counter() - started) / args.steps
    print(prof.key_averages().table(sort_by="self_cuda_time_total" if cuda else "self_cpu_time_total", row_limit=args.rows))
    per_step = f"; rays per step {min(rays)}-{max(rays)}" if max(rays) else ""
    print(f"{args.method}: {seconds:.3f} s per profiled step (profiler on) after {args.warmup} steps{per_step}")


if __name__ == "__main__":
    main()
