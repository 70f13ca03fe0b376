"""Hash-grid encoding on CPU, forward + backward, one process: the int64 reference, the pure-PyTorch fast path and
the native kernel (latent_atlas/encodings/hash_grid_cpu.c), at the papers' size and at the CPU defaults' size.

python benchmarks/hash_grid.py [--points 32768 131072] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import torch
from machine import machine_line

from latent_atlas.encodings import hash_grid_cpu
from latent_atlas.encodings.hash_grid import HashGridConfig, HashGridEncoding, interpolate_hash_grid

SIZES = {
    "paper (16 levels, 2^19, up to 2048)": HashGridConfig(),
    "CPU default (8 levels, 2^17, up to 512)": HashGridConfig(n_levels=8, log2_hashmap_size=17, max_resolution=512),
}


def paths(enc: HashGridEncoding, x: torch.Tensor) -> dict:
    """name -> a function running one forward + backward of that path on x."""
    table = lambda: enc.table.reshape(-1, enc.cfg.features_per_level)  # noqa: E731

    def reference():
        index, weights = enc.corner_indices_reference(x)
        (table()[index] * weights[..., None]).sum(2).sum().backward()

    def torch_fast():
        interpolate_hash_grid(table(), x, enc.resolutions, enc.primes, enc.level_offsets, enc.n_dense, enc.table_size).sum().backward()

    def native():
        hash_grid_cpu.interpolate_native(table(), x, enc.resolutions, enc.n_dense, enc.table_size).sum().backward()

    return {"reference (int64 corners, index_put backward)": reference, "PyTorch fast (per-axis, index_add_)": torch_fast, "native kernel (C, OpenMP)": native}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, nargs="+", default=[32768, 131072])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if hash_grid_cpu.load_library() is None:
        raise SystemExit("no native kernel on this machine (see the warning above)")
    print(machine_line())
    print("| size | points | path | ms per call | speed-up |")
    print("|---|---|---|---|---|")
    for size, cfg in SIZES.items():
        enc = HashGridEncoding(cfg)
        for n in args.points:
            x = torch.rand(n, 3)
            times = {}
            for name, fn in paths(enc, x).items():
                fn()
                start = time.perf_counter()
                for _ in range(args.repeats):
                    fn()
                times[name] = (time.perf_counter() - start) / args.repeats * 1e3
            first = next(iter(times.values()))
            for name, ms in times.items():
                print(f"| {size} | {n} | {name} | {ms:.1f} | {first / ms:.2f}x |")


if __name__ == "__main__":
    main()
