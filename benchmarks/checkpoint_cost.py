"""What a checkpoint's integrity costs: save_checkpoint (safetensors write, fsync, SHA-256, JSON) against the
bare safetensors write, and load_checkpoint's verification, for a few tensor sizes.

    python benchmarks/checkpoint_cost.py [--sizes-mb 10 100 400]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine_line  # noqa: E402

from latent_atlas.engine.checkpoints import file_sha256, load_checkpoint, save_checkpoint  # noqa: E402


def _best(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[10, 100, 400])
    args = parser.parse_args()
    print(machine_line())
    print("| tensors | bare safetensors write s | save_checkpoint s | of which SHA-256 s | bare load s | load_checkpoint (verified) s |")
    print("|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for mb in args.sizes_mb:
            tensors = {"planes": torch.randn(mb * 2**20 // 4)}
            bare = _best(lambda tensors=tensors: save_file(tensors, str(folder / "bare.safetensors")))
            full = _best(lambda tensors=tensors: save_checkpoint(folder / "ckpt", 1, tensors, {}, keep=1))
            digest = _best(lambda: file_sha256(folder / "ckpt" / "step-0000001.safetensors"))
            bare_load = _best(lambda: load_file(str(folder / "bare.safetensors")))
            verified = _best(lambda: load_checkpoint(folder / "ckpt" / "step-0000001.json"))
            print(f"| {mb} MB | {bare:.3f} | {full:.3f} | {digest:.3f} | {bare_load:.3f} | {verified:.3f} |")


if __name__ == "__main__":
    main()
