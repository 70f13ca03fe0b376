"""What one view costs to render from a trained run: the field's rays, then (latent runs) the decoder.

    python benchmarks/render_speed.py RUN [RUN ...] [--views 10] [--repeats 3]

Each RUN is a one-scene `latlas train` run folder (RGB or latent). For each, the test views are rendered at the
checkpoint's state (no scoring, no target encoding): the time of the field's render (rays through the model) and of
the decode (latent runs: the autoencoder's decoder, RGB runs: nothing) are measured separately, best of --repeats
passes over --views views after one warm-up view. The test PSNR is the run's own evaluation of that checkpoint, when
there is one. A latent run renders 1/f^2 of the rays of an RGB view of the same size: this table shows what that buys
once the decoder is paid for.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_line  # noqa: E402
from train_budget import print_table  # noqa: E402

from latent_atlas.evaluation.loading import TrainedRun, load_trained_run  # noqa: E402


def view_times(run: TrainedRun, views: int, repeats: int) -> tuple[float, float, int]:
    """Best-of-repeats mean seconds per view of the render and of the decode, and rays per view."""
    split = run.scene.split("test")
    count = min(views, len(split))
    with torch.no_grad():
        run.space.decode(run.render(0, split.cameras, 0)["color"][None])  # warm-up (kernels, caches)
        best_render, best_decode = float("inf"), float("inf")
        for _ in range(repeats):
            render_s = decode_s = 0.0
            for i in range(count):
                t0 = time.perf_counter()
                color = run.render(0, split.cameras, i)["color"]
                t1 = time.perf_counter()
                run.space.decode(color[None])
                decode_s += time.perf_counter() - t1
                render_s += t1 - t0
            best_render, best_decode = min(best_render, render_s / count), min(best_decode, decode_s / count)
    rays = int(split.cameras.width[0] * split.cameras.height[0])
    return best_render, best_decode, rays


def test_psnr(run: TrainedRun) -> str:
    """The test PSNR (the RGB image's: metrics_d for latent runs) evaluated at the timed checkpoint: eval/<checkpoint>.json
    (benchmarks' evals) or eval/metrics.json (`latlas eval`'s), else '-'."""
    for metrics in (run.run_dir / "eval" / f"{run.checkpoint.stem}.json", run.run_dir / "eval" / "metrics.json"):
        if metrics.is_file():
            return f"{json.loads(metrics.read_text())['results']['psnr']:.2f}"
    return "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="one-scene run folders")
    parser.add_argument("--views", type=int, default=10, help="test views timed per pass")
    parser.add_argument("--repeats", type=int, default=3, help="passes; the fastest counts")
    args = parser.parse_args()
    print(machine_line())
    rows = []
    for run_dir in args.runs:
        run = load_trained_run(run_dir)
        render_s, decode_s, rays = view_times(run, args.views, args.repeats)
        view = run.rgb_scene.split("test").cameras
        rows.append(
            {
                "run": run_dir.name if run_dir.name[:1].isalpha() else f"{run_dir.parent.name}/{run_dir.name}",
                "space": run.space.name,
                "method": run.config.method_name,
                "autoencoder": "-" if run.space.name != "latent" else Path(run.config.ae).name if run.config.ae else "default",
                "image": f"{int(view.width[0])}x{int(view.height[0])}",
                "rays / view": rays,
                "render ms": f"{1000 * render_s:.1f}",
                "decode ms": f"{1000 * decode_s:.1f}",
                "ms / view": f"{1000 * (render_s + decode_s):.1f}",
                "test PSNR": test_psnr(run),
            }
        )
    print_table(rows, list(rows[0]))


if __name__ == "__main__":
    main()
