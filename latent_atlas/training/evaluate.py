"""`latlas eval`: renders the test views of a run and writes nerfstudio-style metrics.json."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional


from latent_atlas.config_io import save_json_atomic
from latent_atlas.data.images import write_png
from latent_atlas.training.latent_metrics import METRIC_GROUPS, score_latent_view
from latent_atlas.training.loading import TrainedRun, load_trained_run
from latent_atlas.training.logger import RunLogger
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


def _score(run: TrainedRun, split_name: str, index: int) -> tuple[dict, dict[str, object]]:
    """Metrics of one view ({'psnr', 'ssim'} of the decoded render, plus the four groups in a latent space)
    and the images to save by suffix."""
    split = run.scene.split(split_name)
    chunk = run.config.method.eval_chunk
    if run.space.name == "rgb":
        pred, gt, view_psnr, view_ssim = score_view(run.model, split, index, run.background_value, run.scene.box_min, run.scene.box_max, chunk)
        return {"psnr": view_psnr, "ssim": view_ssim}, {"": pred, "_gt": gt}
    score = score_latent_view(run.model, run.space, split, run.rgb_scene.split(split_name), index, run.background_value, run.rgb_background, run.scene.box_min, run.scene.box_max, chunk)
    metrics = {"psnr": score.metrics["metrics_d"]["psnr"], "ssim": score.metrics["metrics_d"]["ssim"], **score.metrics}
    return metrics, {"": score.decoded, "_gt": score.target, "_dashboard": score.dashboard}


def evaluate_run(cfg: EvalConfig) -> dict:
    """Renders the split, computes metrics per image, writes metrics.json; returns its content.

    In a latent space `psnr`/`ssim` are the decoded render's (metrics_d), and metrics_e, metrics_d,
    metrics_ae and metrics_d_ae are reported too; each view's dashboard goes to PNG and TensorBoard.
    """
    run = load_trained_run(cfg.run, cfg.device, cfg.checkpoint)
    split = run.scene.split(cfg.split)
    out_path = cfg.output or (run.run_dir / "eval" / "metrics.json")
    count = len(split) if cfg.max_images is None else min(cfg.max_images, len(split))
    logger = RunLogger(run.run_dir, run.config.wandb) if run.space.name != "rgb" and cfg.save_images else None
    per_image, total_seconds = [], 0.0
    for i in range(count):
        t0 = time.perf_counter()
        metrics, images = _score(run, cfg.split, i)
        total_seconds += time.perf_counter() - t0
        name = split.image_paths[i].stem
        per_image.append({"image": str(split.image_paths[i]), **metrics})
        if cfg.save_images:
            for suffix, image in images.items():
                write_png(out_path.parent / "renders" / f"{name}{suffix}.png", image)
            if logger is not None:
                logger.image(f"eval_dashboard/{name}", images["_dashboard"], run.step)
    if logger is not None:
        logger.close()
    psnr_mean, psnr_std = _mean_std([p["psnr"] for p in per_image])
    ssim_mean, ssim_std = _mean_std([p["ssim"] for p in per_image])
    pixels = sum(int(split.cameras.width[i] * split.cameras.height[i]) for i in range(count))
    results = {
        "psnr": psnr_mean, "psnr_std": psnr_std, "ssim": ssim_mean, "ssim_std": ssim_std,
        "num_rays_per_sec": pixels / max(total_seconds, 1e-9),
        "fps": count / max(total_seconds, 1e-9),
    }
    if run.space.name != "rgb":
        for group in METRIC_GROUPS:
            results[group] = {key: _mean_std([p[group][key] for p in per_image])[0] for key in ("psnr", "ssim")}
    result = {
        "experiment_name": run.run_dir.parent.parent.name,
        "method_name": run.config.method_name,
        "space": run.space.name,
        "checkpoint": str(run.checkpoint),
        "step": run.step,
        "split": cfg.split,
        "results": results,
        "per_image": per_image,
    }
    save_json_atomic(out_path, result)
    return result
