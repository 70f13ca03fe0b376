"""Is the CPU's BLAS the reason a method's step costs differ between machines? torch's float32 matmul (MKL in the
PyPI wheel) against numpy's (OpenBLAS) on the tall-skinny shapes the fast methods multiply, forward and backward.

    python benchmarks/matmul.py

Shapes: tensorf's appearance basis (features 144 -> 27) and its shading MLP (in -> 128 -> 128), instant-ngp's
MLPs (32 -> 64), on 65536 samples. Prints ms per product and GFLOP/s for each library, side by side.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from machine import machine_line

SHAPES = {  # name: (rows, inner, columns)
    "tensorf basis 144->27": (65536, 144, 27),
    "tensorf MLP 150->128": (65536, 150, 128),
    "tensorf MLP 128->128": (65536, 128, 128),
    "weight grad 128x65536x128": (128, 65536, 128),
    "instant-ngp MLP 32->64": (65536, 32, 64),
}


def best_ms(fn, repeats: int = 7) -> float:
    """The fastest of `repeats` calls of fn, in ms (after two warm-up calls)."""
    fn(), fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def main() -> None:
    print(machine_line())
    print(f"# torch BLAS: {torch.__config__.show().split('BLAS_INFO=')[1].split(',')[0]}, numpy: {np.__version__}")
    print("| product | torch ms | numpy ms | torch GFLOP/s | numpy GFLOP/s | torch / numpy time |")
    print("|---|---|---|---|---|---|")
    for name, (n, k, m) in SHAPES.items():
        a, b = np.random.randn(n, k).astype(np.float32), np.random.randn(k, m).astype(np.float32)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        t_torch, t_numpy = best_ms(lambda ta=ta, tb=tb: ta @ tb), best_ms(lambda a=a, b=b: a @ b)
        flops = 2 * n * k * m / 1e6  # per ms -> GFLOP/s
        print(f"| {name} | {t_torch:.1f} | {t_numpy:.1f} | {flops / t_torch:.0f} | {flops / t_numpy:.0f} | {t_torch / t_numpy:.2f} |")


if __name__ == "__main__":
    main()
