"""RGB vs latent NeRFs of the same scene: decoded PSNR over training time, the autoencoder's ceiling, memory.

    python benchmarks/latent.py --ae outputs/benchmarks/latent-bench/ae-tiny/<timestamp>
    python benchmarks/latent.py --train-ae-seconds 600          # first trains a tiny AE on ../shared/datasets

Each method trains once per space with --max-time = the largest budget (checkpoints kept
at the others) and every checkpoint is scored by `latlas eval` on the first --eval-images
test views: for latent runs `psnr` is the decoded render's (metrics_d). Then, per method:
how long the RGB run needed to reach the latent run's final decoded PSNR (linear
interpolation between checkpoints), beside the autoencoder's own ceiling (metrics_ae).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_line  # noqa: E402
from methods import METHOD_FLAGS  # noqa: E402
from train_budget import latlas, print_table, run_method  # noqa: E402

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def time_to_reach(rows: list[dict], target: float) -> float | None:
    """First training time at which test PSNR reaches `target`, interpolated between checkpoints (None: never)."""
    previous_t, previous_p = 0.0, None
    for row in rows:
        t, p = row["train_s"], row["test_psnr"]
        if p >= target:
            if previous_p is None or previous_p >= p:
                return t
            return previous_t + (target - previous_p) / (p - previous_p) * (t - previous_t)
        previous_t, previous_p = t, p
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATASETS / "objects128" / "bunny")
    parser.add_argument("--methods", nargs="+", default=["tensorf", "instant-ngp", "triplane"])
    parser.add_argument("--budgets", nargs="+", type=float, default=[60.0, 150.0, 300.0])
    parser.add_argument("--eval-images", type=int, default=20)
    parser.add_argument("--ae", type=Path, help="a `latlas ae train` run folder (default: train one)")
    parser.add_argument("--train-ae-seconds", type=float, default=600.0)
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/benchmarks/latent"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    budgets = sorted(args.budgets)

    ae = args.ae
    if ae is None:
        out = latlas(
            "ae",
            "train",
            "--data",
            str(DATASETS),
            "--preset",
            "tiny",
            "--max-time",
            str(args.train_ae_seconds),
            "--max-steps",
            "1000000",
            "--output-dir",
            str(args.output_dir),
            "--no-progress",
        )
        ae = Path(out.strip().splitlines()[-1].split("run folder: ")[1])
    ae_summary = json.loads((ae / "summary.json").read_text())

    rows = []
    for method in args.methods:
        flags = METHOD_FLAGS.get(method, [])
        for space, extra in (("rgb", []), ("latent", ["--space", "latent", "--ae", str(ae)])):
            for row in run_method(method, args.data, budgets, args.output_dir, args.eval_images, flags + extra):
                rows.append({"space": space, **row})

    print(machine_line())
    print(
        f"# autoencoder: {ae} ({ae_summary['preset']}, {ae_summary['steps']} steps, {ae_summary['train_seconds']:.0f} s, val PSNR {ae_summary['val_psnr']:.2f} dB)"
    )
    header = ["method", "space", "train_s", "steps", "test_psnr", "test_ssim", "metrics_e_psnr", "metrics_ae_psnr", "rays_per_s", "peak_mem_mb"]
    print_table(rows, header)
    print()
    print("| method | latent: final decoded PSNR | latent: train s | RGB: train s to reach it | latent peak MiB | RGB peak MiB |")
    print("|---|---|---|---|---|---|")
    for method in args.methods:
        rgb = [r for r in rows if r["method"] == method and r["space"] == "rgb"]
        lat = [r for r in rows if r["method"] == method and r["space"] == "latent"]
        target = lat[-1]["test_psnr"]
        reach = time_to_reach(rgb, target)
        if reach is None:
            reach_text = f"> {rgb[-1]['train_s']:.0f} (best {max(r['test_psnr'] for r in rgb):.2f} dB)"
        elif rgb[0]["test_psnr"] >= target:  # already there at the first checkpoint: only a bound
            reach_text = f"<= {reach:.0f} ({rgb[0]['test_psnr']:.2f} dB at its first checkpoint)"
        else:
            reach_text = f"{reach:.0f}"
        print(f"| {method} | {target:.2f} | {lat[-1]['train_s']:.0f} | {reach_text} | {lat[-1]['peak_mem_mb']} | {rgb[-1]['peak_mem_mb']} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
