"""The CUDA fast paths side by side: reference fp32, compiled fp32, compiled + bf16 autocast.

    python benchmarks/gpu.py --data ../shared/datasets/objects128/bunny --budget 40

Each method (its registry defaults: the papers' GPU settings, white background) trains once per
variant for the same time budget on the GPU, then `latlas eval` scores the test views on the GPU.
Prints test PSNR, steps/s over the whole run (compile time included) and after warm-up (the median
of the logged windows in the second half), rays/s and peak GPU memory.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_budget import print_table, run_method  # noqa: E402

VARIANTS = {
    "fp32 reference": ["--backend", "reference", "--mixed-precision", "off"],
    "fp32 compiled": ["--backend", "compiled", "--mixed-precision", "off"],
    "bf16 reference": ["--backend", "reference", "--mixed-precision", "bf16"],
    "bf16 compiled": ["--backend", "compiled", "--mixed-precision", "bf16"],
    "auto": [],
}
"""Name -> `latlas train` flags (auto: the CUDA defaults, bf16 autocast and the compiled hash grid only)."""


def steady_steps_per_s(run_dir: Path) -> float:
    """Median steps/s of the logged windows in the second half of training (after compiling and warm-up)."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    rates = [r["steps_per_sec"] for r in rows if "steps_per_sec" in r]
    rates = rates[len(rates) // 2 :]
    return statistics.median(rates) if rates else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--methods", nargs="+", default=["instant-ngp", "tensorf", "triplane"])
    parser.add_argument("--variants", nargs="+", default=["fp32 reference", "fp32 compiled", "bf16 compiled"])
    parser.add_argument("--budget", type=float, default=40.0)
    parser.add_argument("--eval-images", type=int, default=50)
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/benchmarks/gpu"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import torch

    rows = []
    for method in args.methods:
        for variant in args.variants:
            flags = ["--device", "cuda", "--background", "white", "--log-every", "10", *VARIANTS[variant]]
            row = run_method(method, args.data, [args.budget], args.output_dir, args.eval_images, flags, eval_extra=("--device", "cuda"))[-1]
            row.update(variant=variant, steady_steps_per_s=round(steady_steps_per_s(Path(row["run_dir"])), 2))
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
            if args.json:
                args.json.write_text(json.dumps(rows, indent=2))
    print(
        f"# {torch.cuda.get_device_name()} | torch {torch.__version__} | budget {args.budget:.0f} s | {args.eval_images} test views | {time.strftime('%Y-%m-%d')}"
    )
    header = ["method", "variant", "steps", "steps_per_s", "steady_steps_per_s", "rays_per_s", "test_psnr", "test_ssim", "peak_mem_mb"]
    print_table(rows, header)


if __name__ == "__main__":
    main()
