"""PSNR after fixed CPU training-time budgets, with training rays/s and peak memory.

Each method trains once through the `latlas` CLI with --max-time set to the largest
budget; a checkpoint is kept when training time passes each smaller budget, and
each is evaluated with `latlas eval` on the first --eval-images test views.

    python benchmarks/train_budget.py --data ../shared/datasets/objects64/suzanne \
        --methods vanilla-nerf tiny-nerf --budgets 300 900

Extra `latlas train` flags for every run go after `--`, e.g. `-- --background black`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from machine import machine_line

QUIET_RUN = ("--eval-every", "1000000000", "--checkpoint-every", "1000000000", "--checkpoint-every-seconds", "1e9", "--no-progress")
"""`latlas train` flags of a benchmark run: no periodic evaluation or checkpoint, no progress bar."""


def latlas(*args: str, checkout: Path | None = None) -> str:
    """Runs `latlas ARGS` (of the checkout at `checkout`, default the installed package); its stdout."""
    env = {**os.environ, "PYTHONPATH": str(checkout)} if checkout else None
    proc = subprocess.run([sys.executable, "-m", "latent_atlas.cli.main", *args], capture_output=True, text=True, env=env, cwd=checkout)
    if proc.returncode != 0:
        raise SystemExit(f"{checkout or ''} latlas {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return proc.stdout


def print_table(rows: list[dict], header: list[str]) -> None:
    """Prints `rows` as a Markdown table of the `header` columns ('-' where a row lacks one)."""
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(row.get(h, "-")) for h in header) + " |")


def scene_label(data: Path) -> str:
    """A scene's name in tables: the folder, or family/scene_NNN for a synthesized family's scene."""
    return f"{data.parent.name}/{data.name}" if data.name.startswith("scene_") else data.name


def run_method(method: str, data: Path, budgets: list[float], out: Path, eval_images: int, extra: list[str], eval_extra: tuple[str, ...] = ()) -> list[dict]:
    """Trains `method` for max(budgets) seconds; returns one row per budget."""
    args = [
        "train",
        method,
        "--data",
        str(data),
        "--output-dir",
        str(out),
        "--max-time",
        str(max(budgets)),
        *(["--checkpoint-at-times", *[str(b) for b in budgets[:-1]]] if len(budgets) > 1 else []),
        *QUIET_RUN,
        *extra,
    ]
    started = time.time()
    stdout = latlas(*args)
    wall = time.time() - started
    run_dir = Path(stdout.strip().splitlines()[-1].split("run folder: ")[1])
    summary = json.loads((run_dir / "summary.json").read_text())
    checkpoints = sorted((run_dir / "checkpoints").glob("step-*.json"))
    rows = []
    for ckpt in checkpoints:
        state = json.loads(ckpt.read_text())
        metrics_path = run_dir / "eval" / f"{ckpt.stem}.json"
        latlas(
            "eval",
            "--run",
            str(run_dir),
            "--checkpoint",
            str(ckpt),
            "--max-images",
            str(eval_images),
            "--output",
            str(metrics_path),
            "--no-save-images",
            *eval_extra,
        )
        result = json.loads(metrics_path.read_text())["results"]
        latent = {f"{g}_psnr": round(result[g]["psnr"], 2) for g in ("metrics_e", "metrics_ae", "metrics_d_ae") if g in result}
        rows.append(
            {
                **latent,
                "scene": scene_label(data),
                "method": method,
                "train_s": round(state["train_seconds"], 1),
                "steps": state["step"],
                "steps_per_s": round(state["step"] / max(state["train_seconds"], 1e-9), 2),
                "test_psnr": round(result["psnr"], 2),
                "test_ssim": round(result["ssim"], 4),
                "rays_per_s": round(summary["rays_per_sec"], 1),
                "peak_mem_mb": round(summary["peak_memory_mb"]),
                "run_dir": str(run_dir),
                "wall_s": round(wall),
            }
        )
    return rows


def main(defaults: dict | None = None, description: str = __doc__) -> None:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="one or more scene folders")
    parser.add_argument("--methods", nargs="+", default=["vanilla-nerf"])
    parser.add_argument("--budgets", nargs="+", type=float, default=[300.0, 900.0])
    parser.add_argument("--eval-images", type=int, default=10)
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/benchmarks"))
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("extra", nargs="*", help="extra flags for every `latlas train` (after --)")
    if defaults:
        parser.set_defaults(**defaults)
        for action in parser._actions:
            if action.dest in defaults:
                action.required = False
    args = parser.parse_args()
    budgets = sorted(args.budgets)
    rows = []
    method_flags = (defaults or {}).get("method_flags", {})
    for data in args.data:
        for method in args.methods:
            rows += run_method(method, data, budgets, args.output_dir, args.eval_images, method_flags.get(method, []) + args.extra)
            print(json.dumps(rows[-len(budgets) :]), file=sys.stderr, flush=True)  # partial results survive a later failure
            if args.json:
                args.json.write_text(json.dumps(rows, indent=2))
    print(machine_line())
    header = ["scene", "method", "train_s", "steps", "steps_per_s", "test_psnr", "test_ssim", "rays_per_s", "peak_mem_mb"]
    print_table(rows, header)
    if len(args.methods) > 1:
        print()
        print_table(best_and_gap(rows), ["scene", "best method", "best PSNR", "worst method", "worst gap dB"])


def best_and_gap(rows: list[dict]) -> list[dict]:
    """Per scene at the last budget: the best method's PSNR and how far below it the worst method is."""
    table = []
    for scene in dict.fromkeys(r["scene"] for r in rows):
        last = {}
        for r in rows:
            if r["scene"] == scene:
                last[r["method"]] = r  # rows come in budget order: the last one is the largest budget
        best = max(last.values(), key=lambda r: r["test_psnr"])
        worst = min(last.values(), key=lambda r: r["test_psnr"])
        gap = round(best["test_psnr"] - worst["test_psnr"], 2)
        table.append({"scene": scene, "best method": best["method"], "best PSNR": best["test_psnr"], "worst method": worst["method"], "worst gap dB": gap})
    return table


if __name__ == "__main__":
    main()
