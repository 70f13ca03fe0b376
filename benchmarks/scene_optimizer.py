"""Per-step cost of the per-scene tables' optimiser against the number of scenes: dense Adam vs row-adam and lazy-adam.

    python benchmarks/scene_optimizer.py --scenes 16 256 1024

The part of a multi-scene training step whose cost depends on the number of scenes N: gather the
batch's planes (4 scenes), backpropagate a loss through them, and step the optimiser of the per-scene
tables (row-adam and lazy-adam with sparse gradients, lazy-adam catching the batch's rows up first, as the trainer
runs them). The rendering itself does not depend on N (see the scaled benchmark for whole steps). Tables are
the CPU presets': RGB Tri-Planes planes [N, 3, 16, 32, 32]; stage 2's micro planes [N, 3, 6, 32, 32] plus
coefficients and bias over 8 macro planes. The optimisers are timed in the same process, one after the other.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from latent_atlas.fields.multi_triplane import MicroMacroTable, PlaneTable
from latent_atlas.scaled.presets import CPU_FIELD, CPU_MICRO_MACRO
from latent_atlas.scaled.row_adam import RowAdam


def make_table(kind: str, num_scenes: int) -> torch.nn.Module:
    """The per-scene table of the CPU preset of `kind` (rgb or stage2) for num_scenes scenes."""
    if kind == "rgb":
        return PlaneTable(num_scenes, CPU_FIELD.plane_channels, CPU_FIELD.plane_resolution, 0.1)
    table = MicroMacroTable(num_scenes, CPU_MICRO_MACRO, CPU_FIELD.plane_resolution)
    table.macro.requires_grad_(False)  # stage 2 keeps the macro basis frozen
    return table


def seconds_per_step(table: torch.nn.Module, optimizer: torch.optim.Optimizer, steps: int, batch: int) -> float:
    """Mean seconds of gather + backward + optimiser step over `steps` random batches (after 3 warm-up steps)."""
    n = table.scene_parameters()[0].shape[0]
    table.sparse_grad = isinstance(optimizer, RowAdam)  # as the trainer does with --scene-optimizer row-adam
    generator = torch.Generator().manual_seed(0)
    for i in range(steps + 3):
        if i == 3:
            start = time.perf_counter()
        rows = torch.randperm(n, generator=generator)[:batch]
        if isinstance(optimizer, RowAdam):
            optimizer.catch_up(rows)  # lazy-adam: the rows where dense Adam has them (row-adam: nothing)
        optimizer.zero_grad(set_to_none=True)
        table(rows).square().mean().backward()
        optimizer.step()  # row-adam takes the rows from the sparse gradient
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, nargs="+", default=[16, 256, 1024])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=4, help="scenes per step")
    args = parser.parse_args()
    print(f"# {time.strftime('%Y-%m-%d')} | {platform.machine()}, {torch.get_num_threads()} threads | {args.batch} scenes per step, {args.steps} steps")
    print("| table | scenes | dense Adam ms / step | row-adam ms / step | lazy-adam ms / step | dense / lazy |")
    print("|---|---|---|---|---|---|")
    for kind in ("rgb", "stage2"):
        for n in args.scenes:
            table = make_table(kind, n)
            params = table.scene_parameters()
            dense = seconds_per_step(table, torch.optim.Adam(params, lr=1e-2), args.steps, args.batch)
            rows = seconds_per_step(table, RowAdam(params, lr=1e-2), args.steps, args.batch)
            lazy = seconds_per_step(table, RowAdam(params, lr=1e-2, catch_up=True), args.steps, args.batch)
            print(f"| {kind} | {n} | {dense * 1e3:.1f} | {rows * 1e3:.1f} | {lazy * 1e3:.1f} | {dense / lazy:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
