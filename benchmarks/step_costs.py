"""Milliseconds per training step of stage 2's two phases and of RGB Tri-Planes, in one process, alternating.

    python benchmarks/step_costs.py --data CARS --init STAGE1 --scenes 64 --micro-macro 4 12
    PYTHONPATH=/tmp/old python benchmarks/step_costs.py ...   # a `git worktree` of another commit, run in turn

Builds a `scale-stage2-cpu` trainer (4 + 2 epochs) and a `triplanes-rgb-cpu` trainer on the first N scenes of CARS
(a `latlas data synth` family) and times blocks of steps of each in turn: stage 2's latent phase, its decoded phase
(the step counter set into it) and RGB Tri-Planes. Prints the median of the blocks, with the machine line, and which
checkout's package ran. Per-step costs are what profiling compares; the races in BENCHMARKS.md give the totals.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_line  # noqa: E402

import latent_atlas  # noqa: E402
from latent_atlas.engine.device import tune_allocator  # noqa: E402
from latent_atlas.scaled.presets import scaled_preset  # noqa: E402
from latent_atlas.scaled.trainer import MultiSceneTrainer  # noqa: E402


def trainer(preset: str, args: argparse.Namespace) -> MultiSceneTrainer:
    """A trainer of `preset` on the first --scenes scenes (stage 2: from --init, 4 + 2 epochs)."""
    cfg = scaled_preset(preset)
    cfg.data, cfg.num_scenes, cfg.output_dir, cfg.progress, cfg.eval_views = (args.data,), args.scenes, args.output_dir, False, 1
    if cfg.kind == "scale-stage2":
        cfg.init = args.init
        cfg.micro_macro.micro_channels, cfg.micro_macro.macro_channels = args.micro_macro
        cfg.phases[0].epochs, cfg.phases[1].epochs = 4, 2
    return MultiSceneTrainer(cfg)


def block_ms(run: MultiSceneTrainer, first_step: int, steps: int) -> float:
    """Mean ms per step of `steps` steps from `first_step` (after 3 untimed ones)."""
    run.step = first_step
    for _ in range(3):
        run.train_step()
        run.step += 1
    start = time.perf_counter()
    for _ in range(steps):
        run.train_step()
        run.step += 1
    return (time.perf_counter() - start) / steps * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a family of synthesized scenes (latlas data synth)")
    parser.add_argument("--init", type=Path, required=True, help="a stage-1 run folder (latlas scale stage1)")
    parser.add_argument("--scenes", type=int, default=64)
    parser.add_argument("--micro-macro", type=int, nargs=2, default=(4, 12), metavar=("MICRO", "MACRO"))
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--steps", type=int, default=60, help="steps per timed block")
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/step_costs"))
    args = parser.parse_args()
    tune_allocator()  # as `latlas` does
    stage2, rgb = trainer("scale-stage2-cpu", args), trainer("triplanes-rgb-cpu", args)
    parts = {"stage 2 latent phase": (stage2, 5), "stage 2 decoded phase": (stage2, stage2.phase_steps[0] + 5), "RGB Tri-Planes": (rgb, 5)}
    times: dict[str, list[float]] = {name: [] for name in parts}
    for _ in range(args.blocks):
        for name, (run, first) in parts.items():
            times[name].append(block_ms(run, first, args.steps))
    print(f"\n{machine_line()} | {args.scenes} scenes | package {Path(latent_atlas.__file__).parent}\n")
    print("| step | ms (median of blocks) | blocks |\n|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.2f} | {', '.join(f'{v:.1f}' for v in values)} |")


if __name__ == "__main__":
    main()
