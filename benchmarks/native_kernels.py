"""Native CPU kernels against their PyTorch paths, side by side in one process: each kernel alone (forward +
backward), then whole training steps of each grid method with the kernels on (backend auto) and off (reference).

    python benchmarks/native_kernels.py [--data ../shared/datasets/objects128/bunny] [--methods ...] [--steps 20]

Kernels: the hash grid (latent_atlas/encodings/hash_grid_cpu.c), bilinear plane sampling, fused tri-planes (the
three planes sampled and summed or multiplied in one pass) and fused TensoRF VM features (planes_cpu.c). The step
timing trains one model per method with its CPU flags (benchmarks/methods.py), warms up, then alternates blocks of steps under each backend on the same model, so both
see the same state (occupancy grids, sample counts) and the same machine load.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
import tyro
from machine import machine_line
from methods import METHOD_FLAGS
from torch import Tensor

from latent_atlas import backends
from latent_atlas.encodings import hash_grid_cpu, planes_cpu
from latent_atlas.encodings.hash_grid import HashGridConfig, HashGridEncoding, interpolate_hash_grid
from latent_atlas.encodings.planes import reduce_planes, sample_planes
from latent_atlas.encodings.tensor_vm import vm_features
from latent_atlas.methods.registry import method_config
from latent_atlas.tasks.scene import SceneTask
from latent_atlas.tasks.scene_config import TrainConfig

HASH_SIZES = {
    "hash grid, paper size (16 levels, 2^19)": HashGridConfig(),
    "hash grid, CPU default (8 levels, 2^17)": HashGridConfig(n_levels=8, log2_hashmap_size=17, max_resolution=512),
}
PLANE_SHAPES = {
    "tensorf density planes [3, 16, 200, 200]": ((3, 16, 200, 200), 200000, "zeros"),
    "tensorf appearance planes [3, 48, 200, 200]": ((3, 48, 200, 200), 50000, "zeros"),
    "tensorf lines [3, 16, 200, 1]": ((3, 16, 200, 1), 200000, "zeros"),
    "k-planes scale 2 [3, 16, 128, 128]": ((3, 16, 128, 128), 100000, "border"),
    "tri-plane [3, 32, 64, 64]": ((3, 32, 64, 64), 400000, "border"),
}

TRIPLANE_SHAPES = {
    "k-planes field scale 2 [3, 16, 128, 128], product": ((1, 3, 16, 128, 128), 32768, "product"),
    "k-planes proposal [3, 8, 128, 128], product": ((1, 3, 8, 128, 128), 98304, "product"),
    "tri-plane [3, 32, 64, 64], sum": ((1, 3, 32, 64, 64), 100000, "sum"),
}

VM_SHAPES = {  # TensoRF at its CPU grid size (128^3)
    "tensorf density VM [3, 16, 128, 128] + lines": (16, 128, 200000),
    "tensorf appearance VM [3, 48, 128, 128] + lines": (48, 128, 50000),
}


def time_call(fn: Callable[..., Tensor], repeats: int, *args) -> float:
    """Milliseconds per forward + backward of fn(*args) (its output summed), after one warm-up call."""
    fn(*args).sum().backward()
    start = time.perf_counter()
    for _ in range(repeats):
        fn(*args).sum().backward()
    return (time.perf_counter() - start) / repeats * 1e3


def hash_torch(enc: HashGridEncoding, x: Tensor) -> Tensor:
    """The pure-PyTorch hash-grid path."""
    table = enc.table.reshape(-1, enc.cfg.features_per_level)
    return interpolate_hash_grid.reference(table, x, enc.resolutions, enc.primes, enc.level_offsets, enc.n_dense, enc.table_size)


def hash_native(enc: HashGridEncoding, x: Tensor) -> Tensor:
    """The native hash-grid kernel."""
    return hash_grid_cpu.interpolate_native(enc.table.reshape(-1, enc.cfg.features_per_level), x, enc.resolutions, enc.n_dense, enc.table_size)


def planes_torch(planes: Tensor, grid: Tensor, padding: str) -> Tensor:
    """F.grid_sample, as the encodings called it before the native kernel."""
    return F.grid_sample(planes, grid[:, :, None], mode="bilinear", padding_mode=padding, align_corners=True)


def planes_native(planes: Tensor, grid: Tensor, padding: str) -> Tensor:
    """The native plane kernel itself, whatever the channel count."""
    return planes_cpu._NativePlanes.apply(planes, grid, padding == "border")


def on_reference(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """fn run under the reference backend (its PyTorch path), the backend back to auto afterwards."""

    def run(*args) -> Tensor:
        backends.set_backend("reference")
        try:
            return fn(*args)
        finally:
            backends.set_backend("auto")

    return run


def triplanes_unfused(planes: Tensor, points: Tensor, reduction: str) -> Tensor:
    """Each plane sampled, then reduced (the reference of fused_triplanes)."""
    return reduce_planes(sample_planes(planes, points), reduction)


def kernel_rows(points: int, repeats: int) -> list[tuple[str, float, float]]:
    """(case, PyTorch ms, native ms) per kernel case, forward + backward."""
    rows = []
    for name, cfg in HASH_SIZES.items():
        enc, x = HashGridEncoding(cfg), torch.rand(points, 3)
        rows.append((f"{name}, {points} points", time_call(hash_torch, repeats, enc, x), time_call(hash_native, repeats, enc, x)))
    for name, (shape, n, padding) in PLANE_SHAPES.items():
        planes, grid = torch.randn(*shape, requires_grad=True), torch.rand(shape[0], n, 2) * 2 - 1
        native_ms = time_call(planes_native, repeats, planes, grid, padding)
        used = "" if shape[1] >= planes_cpu.MIN_CHANNELS else " (training keeps grid_sample: < MIN_CHANNELS)"
        rows.append((f"{name}, {n} points{used}", time_call(planes_torch, repeats, planes, grid, padding), native_ms))
    for case, reference, fused, args in fused_cases(lambda n: torch.rand(n, 3) * 2 - 1):
        rows.append((case, time_call(on_reference(reference), repeats, *args), time_call(fused, repeats, *args)))
    return rows


def fused_cases(make_points: Callable[[int], Tensor]) -> list[tuple[str, Callable[..., Tensor], Callable[..., Tensor], tuple]]:
    """(case, reference fn, fused fn, their arguments) per fused tri-plane and VM shape, at points make_points(n) [n, 3]."""
    cases = []
    for name, (shape, n, reduction) in TRIPLANE_SHAPES.items():
        planes = torch.randn(*shape, requires_grad=True)
        cases.append((f"fused {name}, {n} points", triplanes_unfused, planes_cpu.fused_triplanes, (planes, make_points(n)[None], reduction)))
    for name, (rank, side, n) in VM_SHAPES.items():
        planes, lines = torch.randn(3, rank, side, side, requires_grad=True), torch.randn(3, rank, side, 1, requires_grad=True)
        cases.append((f"fused {name}, {n} points", vm_features, planes_cpu.fused_vm, (planes, lines, make_points(n))))
    return cases


def shell_points(n: int) -> Tensor:
    """[n, 3] points clustered on a sphere of radius 0.5 (as training samples cluster near a surface)."""
    d = torch.randn(n, 3)
    return (d / d.norm(dim=1, keepdim=True) * (0.5 + 0.02 * torch.randn(n, 1))).clamp(-1, 1)


def thread_rows(repeats: int) -> list[tuple[str, float, float]]:
    """(case, ms on 1 thread, ms on all threads) of each fused kernel's forward + backward, clustered points."""
    threads, rows = torch.get_num_threads(), []
    for case, _, fn, args in fused_cases(shell_points):
        torch.set_num_threads(1)
        one = time_call(fn, repeats, *args)
        torch.set_num_threads(threads)
        rows.append((case, one, time_call(fn, repeats, *args)))
    return rows


def step_seconds(method: str, data: Path, warmup: int, steps: int, rounds: int) -> dict[str, float]:
    """Seconds per training step of `method` under each backend, alternating blocks of steps on one model."""
    flags = METHOD_FLAGS.get(method, []) + ["--data", str(data), "--output-dir", "/tmp/latlas-native-kernels", "--no-progress"]
    trainer = SceneTask(tyro.cli(TrainConfig, default=TrainConfig(method_name=method, method=method_config(method)), args=flags))

    def run(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            trainer.train_step()
            trainer.step += 1
        return time.perf_counter() - start

    backends.set_backend("auto")
    run(warmup)
    totals = {"reference": 0.0, "auto": 0.0}
    for _ in range(rounds):
        for backend in totals:
            backends.set_backend(backend)
            totals[backend] += run(steps)
    backends.set_backend("auto")
    return {backend: total / (steps * rounds) for backend, total in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets/objects128/bunny"))
    parser.add_argument("--methods", nargs="*", default=["instant-ngp", "nerfacto", "tensorf", "kplanes", "triplane"])
    parser.add_argument("--points", type=int, default=32768, help="hash-grid points per call")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=60, help="steps before timing (occupancy grids settle)")
    parser.add_argument("--steps", type=int, default=10, help="steps per timed block")
    parser.add_argument("--rounds", type=int, default=2, help="timed blocks per backend, alternating")
    args = parser.parse_args()
    if hash_grid_cpu.load_library() is None or planes_cpu.load_library() is None:
        raise SystemExit("no native kernels on this machine (see the warning above)")
    print(machine_line())
    print("| kernel case (forward + backward) | PyTorch ms | native ms | speed-up |")
    print("|---|---|---|---|")
    for case, torch_ms, native_ms in kernel_rows(args.points, args.repeats):
        print(f"| {case} | {torch_ms:.1f} | {native_ms:.1f} | {torch_ms / native_ms:.2f}x |")
    print(f"\n# fused kernels on points clustered near a surface: 1 thread vs {torch.get_num_threads()}")
    print(f"| kernel case (forward + backward) | 1 thread ms | {torch.get_num_threads()} threads ms | speed-up |")
    print("|---|---|---|---|")
    for case, one_ms, all_ms in thread_rows(args.repeats):
        print(f"| {case} | {one_ms:.1f} | {all_ms:.1f} | {one_ms / all_ms:.2f}x |")
    if not args.methods:
        return
    print(f"\n# training steps on {args.data}, CPU flags of benchmarks/methods.py, after {args.warmup} steps, {args.rounds} x {args.steps} steps each")
    print("| method | PyTorch s/step | native s/step | speed-up |")
    print("|---|---|---|---|")
    for method in args.methods:
        seconds = step_seconds(method, args.data, args.warmup, args.steps, args.rounds)
        print(f"| {method} | {seconds['reference']:.3f} | {seconds['auto']:.3f} | {seconds['reference'] / seconds['auto']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
