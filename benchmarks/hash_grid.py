"""Hash-grid encoding on CPU: the fast path against the reference path, forward + backward, one process.

python benchmarks/hash_grid.py [--points 131072] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import torch

from latent_atlas.encodings.hash_grid import HashGridConfig, HashGridEncoding


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=131072)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    enc = HashGridEncoding(HashGridConfig())
    x = torch.rand(args.points, 3)

    def reference():
        index, weights = enc.corner_indices_reference(x)
        (enc.table.reshape(-1, enc.cfg.features_per_level)[index] * weights[..., None]).sum(2).sum().backward()

    def fast():
        enc(x).sum().backward()

    times = {}
    for name, fn in (("reference", reference), ("fast", fast)):
        fn()
        start = time.perf_counter()
        for _ in range(args.repeats):
            fn()
        times[name] = (time.perf_counter() - start) / args.repeats * 1e3
    print(f"# {args.points} points, 16 levels, T=2^19, torch threads {torch.get_num_threads()}")
    print("| path | ms per call | speed-up |")
    print("|---|---|---|")
    for name, ms in times.items():
        print(f"| {name} | {ms:.0f} | {times['reference'] / ms:.2f}x |")


if __name__ == "__main__":
    main()
