"""RGB vs latent NeRFs of the same scene: decoded PSNR over training time, the autoencoder's ceiling, memory.

    python benchmarks/latent.py                                  # the built-in autoencoder (latlas-f4c16-slim-igae)
    python benchmarks/latent.py --ae latlas-f4c16-pooled-igae latlas-f4c16-slim-igae   # two autoencoders, side by side
    python benchmarks/latent.py --variants "crop16=--latent.decoded-crop 16"   # latent runs with extra flags too
    python benchmarks/latent.py --rgb-variants "s16k=--samples-per-batch 16384"  # RGB runs too (latent vs the fastest)

Each method trains once per space with --max-time = the largest budget (checkpoints kept
at the others) and every checkpoint is scored by `latlas eval` on the first --eval-images
test views: for latent runs `psnr` is the decoded render's (metrics_d). Then, per method:
the time each run needs to reach --target dB (linear interpolation between checkpoints) and its ratio to
the RGB run's (with --separate-budgets, one run per budget, each with its schedule fitted to that budget: the budget a
user would set to reach the target, where a checkpoint of a longer run is early in that run's schedule, e.g. before a
latent run's decoded phase), how long RGB needs to reach the latent run's final decoded PSNR, and the autoencoder's own
ceiling: its reconstruction of the same test views with the weights given (a run's metrics_ae is measured with
its fine-tuned decoder, which the decoded phase often makes worse at decoding true latents).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_line  # noqa: E402
from train_budget import print_table, run_method  # noqa: E402

from latent_atlas.evaluation.ae_ceiling import autoencoder_ceiling  # noqa: E402
from latent_atlas.methods.defaults import device_flags  # noqa: E402
from latent_atlas.spaces.presets import BUILTIN_AE  # noqa: E402

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


def _reach_text(rows: list[dict], target: float) -> str:
    """When the runs `rows` reach `target` dB, as table text (a bound when already there at the first checkpoint)."""
    reach = time_to_reach(rows, target)
    if reach is None:
        return f"> {rows[-1]['train_s']:.0f} (best {max(r['test_psnr'] for r in rows):.2f} dB)"
    if rows[0]["test_psnr"] >= target:
        return f"<= {reach:.0f} ({rows[0]['test_psnr']:.2f} dB at its first checkpoint)"
    return f"{reach:.0f}"


def _variant(spec: str) -> tuple[str, list[str]]:
    """A "NAME=FLAGS" variant as (NAME, [flag, ...])."""
    name, _, flags = spec.partition("=")
    return name, flags.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATASETS / "objects128" / "bunny")
    parser.add_argument("--methods", nargs="+", default=["tensorf", "instant-ngp", "triplane"])
    parser.add_argument("--budgets", nargs="+", type=float, default=[60.0, 150.0, 300.0])
    parser.add_argument("--eval-images", type=int, default=20)
    parser.add_argument("--ae", nargs="+", default=[BUILTIN_AE], help="autoencoders (any --ae value; default: the built-in one)")
    parser.add_argument("--target", type=float, default=28.0, help="decoded PSNR (dB) whose time-to-reach is compared")
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/benchmarks/latent"))
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--separate-budgets", action="store_true", help="one run per budget (its schedule fitted to it) instead of checkpoints of one run of the largest"
    )
    parser.add_argument(
        "--variants", nargs="*", default=[], help='more latent runs per autoencoder, "NAME=FLAGS" (e.g. "crop16=--latent.decoded-crop 16"), labelled "AE NAME"'
    )
    parser.add_argument("--rgb-variants", nargs="*", default=[], help='more RGB runs, "NAME=FLAGS"; latent times are compared with the fastest RGB run')
    parser.add_argument(
        "--only-variants",
        action="store_true",
        help="run the variants only, not the runs with the CPU defaults as they are (which still run in a space given no variant)",
    )
    args = parser.parse_args()
    budgets = sorted(args.budgets)
    names = [Path(ae).name for ae in args.ae]
    label = {ae: name if names.count(name) == 1 else ae for ae, name in zip(args.ae, names)}  # run folders all end in autoencoder/
    label["-"] = "-"
    variants = [("", [])] + [_variant(spec) for spec in args.variants]
    rgb_variants = [("-", [])] + [_variant(spec) for spec in args.rgb_variants]
    if args.only_variants:
        variants, rgb_variants = variants[1:] or variants, rgb_variants[1:] or rgb_variants

    rows, failed = [], {}
    for method in args.methods:
        # (space, autoencoder, its label in the tables, extra flags)
        spaces = [("rgb", "-", name, more) for name, more in rgb_variants] + [
            ("latent", ae, f"{label[ae]} {name}".strip(), ["--space", "latent", "--ae", ae, *more]) for ae in args.ae for name, more in variants
        ]
        for space, _ae, name, extra in spaces:
            try:
                runs = [[b] for b in budgets] if args.separate_budgets else [budgets]
                flags = [*device_flags(method, "cpu", space), *extra]  # the CPU settings, also on a CUDA machine
                results = [row for run in runs for row in run_method(method, args.data, run, args.output_dir, args.eval_images, flags)]
            except SystemExit as failure:  # a run that stops (collapse, divergence) is a result: the others still run
                failed[(method, space, name)] = str(failure).strip().splitlines()[-1]
                continue
            rows.extend({"space": space, "ae": name, **row} for row in results)

    print(machine_line())
    print(f"# {'one run per budget' if args.separate_budgets else 'checkpoints of one run'}: budgets {budgets} s")
    print(f"# data: {args.data}, {args.eval_images} test views; latent psnr = decoded (metrics_d), its ceiling = the autoencoder's own (metrics_ae)")
    header = ["method", "space", "ae", "train_s", "steps", "test_psnr", "test_ssim", "metrics_e_psnr", "metrics_ae_psnr", "rays_per_s", "peak_mem_mb"]
    print_table(rows, header)
    print()
    ceilings = {ae: autoencoder_ceiling(ae, args.data, args.eval_images) for ae in args.ae}
    print("# ceiling: the autoencoder's own reconstruction of the same test views (its metrics_ae before any decoder fine-tuning)")
    print(
        f"| method | space | ae | final PSNR | ceiling | ceiling - final | s to reach {args.target:g} dB | ratio to RGB | RGB s to reach latent's final | peak MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for method in args.methods:
        rgb_runs = [[r for r in rows if r["method"] == method and r["space"] == "rgb" and r["ae"] == name] for name, _ in rgb_variants]
        rgb = min((runs for runs in rgb_runs if runs), key=lambda runs: time_to_reach(runs, args.target) or float("inf"), default=[])  # the fastest
        rgb_reach = time_to_reach(rgb, args.target) if rgb else None
        rgb_at_first = bool(rgb) and rgb[0]["test_psnr"] >= args.target  # RGB's time is then an upper bound
        for space, ae, name, _ in spaces:
            runs = [r for r in rows if r["method"] == method and r["space"] == space and r["ae"] == name]
            if not runs:
                print(f"| {method} | {space} | {name} | failed: {failed.get((method, space, name), 'no checkpoint')} | | | | | | |")
                continue
            final = runs[-1]
            reach = time_to_reach(runs, args.target)
            ceiling = ceilings.get(ae)
            gap = f"{ceiling - final['test_psnr']:.2f}" if ceiling is not None else "-"
            at_first = reach is not None and runs[0]["test_psnr"] >= args.target  # reached by its first checkpoint: a bound
            reach_text = _reach_text(runs, args.target)
            marker = ">= " if rgb_at_first and not at_first else "<= " if at_first and not rgb_at_first else ""
            ratio = f"{marker}{reach / rgb_reach:.2f}" if reach is not None and rgb_reach and not (at_first and rgb_at_first) else "-"
            catch_up = _reach_text(rgb, final["test_psnr"]) if space == "latent" and rgb else "-"
            print(
                f"| {method} | {space} | {name} | {final['test_psnr']:.2f} | {f'{ceiling:.2f}' if ceiling is not None else '-'} | {gap} | {reach_text} | {ratio} | {catch_up} | {final['peak_mem_mb']} |"
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
