"""`latlas eval`: renders the test views of a run and writes nerfstudio-style metrics.json."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional


from latent_atlas.config_io import save_json_atomic
from latent_atlas.data.images import write_png
from latent_atlas.rendering.backgrounds import eval_background
from latent_atlas.training.loading import load_trained_run
from latent_atlas.training.render_views import score_view


@dataclass
class EvalConfig:
    """`latlas eval`: metrics of a trained run on its held-out views."""

    run: Path
    """Run folder written by `latlas train`."""
    split: str = "test"
    """Which views: test (falls back to val) or val."""
    output: Optional[Path] = None
    """Metrics file (default: RUN/eval/metrics.json; renders beside it)."""
    device: str = "cpu"
    """cpu, cuda or auto."""
    max_images: Optional[int] = None
    """Evaluate only the first N views."""
    save_images: bool = True
    """Write each render and its ground truth as PNG."""
    checkpoint: Optional[Path] = None
    """A checkpoint's .json or .safetensors file (default: the run's latest)."""


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.pstdev(values) if len(values) > 1 else 0.0


def evaluate_run(cfg: EvalConfig) -> dict:
    """Renders the split, computes PSNR/SSIM per image, writes metrics.json; returns its content."""
    run = load_trained_run(cfg.run, cfg.device, cfg.checkpoint)
    split = run.scene.split(cfg.split)
    out_path = cfg.output or (run.run_dir / "eval" / "metrics.json")
    bg_mode = eval_background(run.config.background)
    count = len(split) if cfg.max_images is None else min(cfg.max_images, len(split))
    per_image, total_seconds = [], 0.0
    for i in range(count):
        t0 = time.perf_counter()
        pred, gt, view_psnr, view_ssim = score_view(run.model, split, i, bg_mode, run.scene.box_min, run.scene.box_max, run.config.method.eval_chunk)
        total_seconds += time.perf_counter() - t0
        name = split.image_paths[i].stem
        per_image.append({"image": str(split.image_paths[i]), "psnr": view_psnr, "ssim": view_ssim})
        if cfg.save_images:
            write_png(out_path.parent / "renders" / f"{name}.png", pred)
            write_png(out_path.parent / "renders" / f"{name}_gt.png", gt)
    psnr_mean, psnr_std = _mean_std([p["psnr"] for p in per_image])
    ssim_mean, ssim_std = _mean_std([p["ssim"] for p in per_image])
    pixels = sum(int(split.cameras.width[i] * split.cameras.height[i]) for i in range(count))
    result = {
        "experiment_name": run.run_dir.parent.parent.name,
        "method_name": run.config.method_name,
        "checkpoint": str(run.checkpoint),
        "step": run.step,
        "split": cfg.split,
        "results": {
            "psnr": psnr_mean, "psnr_std": psnr_std, "ssim": ssim_mean, "ssim_std": ssim_std,
            "num_rays_per_sec": pixels / max(total_seconds, 1e-9),
            "fps": count / max(total_seconds, 1e-9),
        },
        "per_image": per_image,
    }
    save_json_atomic(out_path, result)
    return result
