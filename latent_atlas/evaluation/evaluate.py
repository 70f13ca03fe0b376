"""`latlas eval`: renders the test views of a run and writes nerfstudio-style metrics.json."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

from latent_atlas.config_io import save_json_atomic
from latent_atlas.data.images import write_png
from latent_atlas.engine.config import Device
from latent_atlas.engine.logger import RunLogger
from latent_atlas.evaluation.loading import TrainedRun, load_trained_run
from latent_atlas.evaluation.lpips import MIN_SIDE, AlexLPIPS, find_lpips_weights, load_lpips
from latent_atlas.evaluation.metrics import psnr, quantise_8bit, ssim
from latent_atlas.evaluation.render_views import score_rendered_view
from latent_atlas.spaces.image_space import METRIC_GROUPS, ViewScore


@dataclass
class EvalConfig:
    """`latlas eval`: metrics of a trained run on its held-out views."""

    run: Path
    """Run folder written by `latlas train`, `latlas triplanes`, `latlas igae` or `latlas scale`."""
    split: Literal["test", "val", "train"] = "test"
    """Which views: test (falls back to val) or val."""
    output: Optional[Path] = None
    """Metrics file (default: RUN/eval/metrics.json; renders beside it)."""
    device: Device = "auto"
    """cpu, cuda or auto."""
    max_images: Optional[int] = None
    """Evaluate only the first N views."""
    save_images: bool = True
    """Write each render and its ground truth as PNG."""
    checkpoint: Optional[Path] = None
    """A checkpoint's .json or .safetensors file (default: the run's latest)."""
    scene: Optional[str] = None
    """Many-scene runs: evaluate only this scene (index or folder name; default: every scene)."""
    lpips_weights: Optional[Path] = None
    """Folder holding alexnet-owt-7be5be79.pth and/or alex.pth for LPIPS (also looked for in the torch hub
    cache and the lpips package); without them metrics.json says LPIPS is unavailable, and why."""


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.pstdev(values) if len(values) > 1 else 0.0


def _field_metrics(score: ViewScore, lpips_model: AlexLPIPS | None) -> dict:
    """What the field reports: PSNR/SSIM of the RGB image and its target quantised to 8 bits (NeRFBaselines),
    and LPIPS (None without weights, or for images too small for AlexNet)."""
    rgb, target = quantise_8bit(score.rgb[..., :3]), quantise_8bit(score.target[..., :3])
    small = min(rgb.shape[:2]) < MIN_SIDE
    return {
        "psnr_8bit": psnr(rgb, target),
        "ssim_8bit": ssim(rgb, target),
        "lpips": None if lpips_model is None or small else float(lpips_model(rgb, target)),
    }


def _score(run: TrainedRun, scene_index: int, split_name: str, index: int) -> ViewScore:
    """The space's ViewScore of one view of one scene."""
    split = run.scenes[scene_index].split(split_name)
    metadata = {k: v[index] for k, v in split.metadata.items()} or None  # a dynamic scene's frame time
    render = run.render(scene_index, split.cameras, index, metadata)["color"]
    return score_rendered_view(run.space, render, split, run.rgb_scenes[scene_index].split(split_name), index, run.background_value, run.rgb_background)


def _summarise(per_image: list[dict]) -> dict:
    """Mean and spread of psnr/ssim (the RGB image's), their 8-bit versions and LPIPS, each metric group's
    means, over per-image rows."""
    psnr_mean, psnr_std = _mean_std([p["psnr"] for p in per_image])
    ssim_mean, ssim_std = _mean_std([p["ssim"] for p in per_image])
    results: dict = {"psnr": psnr_mean, "psnr_std": psnr_std, "ssim": ssim_mean, "ssim_std": ssim_std}
    results["psnr_8bit"] = _mean_std([p["psnr_8bit"] for p in per_image])[0]
    results["ssim_8bit"] = _mean_std([p["ssim_8bit"] for p in per_image])[0]
    lpips_values = [p["lpips"] for p in per_image if p["lpips"] is not None]
    results["lpips"] = _mean_std(lpips_values)[0] if len(lpips_values) == len(per_image) else None
    for group in (g for g in METRIC_GROUPS if g in per_image[0]):
        results[group] = {key: _mean_std([p[group][key] for p in per_image])[0] for key in ("psnr", "ssim")}
    return results


def evaluate_run(cfg: EvalConfig) -> dict:
    """Renders the split of every scene of the run, computes metrics per image, writes metrics.json; returns it.

    psnr/ssim score the RGB image (a latent render decoded: metrics_d); a latent space also reports metrics_e,
    metrics_d, metrics_ae and metrics_d_ae. Each view's dashboard goes to PNG (and TensorBoard). Many-scene
    runs also get per-scene results.
    """
    run = load_trained_run(cfg.run, cfg.device, cfg.checkpoint)
    out_path = cfg.output or (run.run_dir / "eval" / "metrics.json")
    logger = RunLogger(run.run_dir, getattr(run.config, "wandb", False)) if cfg.save_images else None
    scene_indices = range(len(run.scenes)) if cfg.scene is None else [run.scene_index(cfg.scene)]
    found = find_lpips_weights(cfg.lpips_weights)
    lpips_model = load_lpips(*found) if isinstance(found, tuple) else None
    per_image, per_scene, total_seconds, pixels = [], [], 0.0, 0
    for s in scene_indices:
        split = run.scenes[s].split(cfg.split)
        count = len(split) if cfg.max_images is None else min(cfg.max_images, len(split))
        rows = []
        for i in range(count):
            t0 = time.perf_counter()
            score = _score(run, s, cfg.split, i)
            total_seconds += time.perf_counter() - t0
            pixels += int(split.cameras.width[i] * split.cameras.height[i])
            name = split.image_paths[i].stem
            head = score.groups[score.headline]
            rows.append({"image": str(split.image_paths[i]), "psnr": head["psnr"], "ssim": head["ssim"], **_field_metrics(score, lpips_model), **score.groups})
            if cfg.save_images:
                folder = out_path.parent / "renders" / (run.names[s] if len(run.scenes) > 1 else "")
                for suffix, image in (("", score.rgb), ("_gt", score.target), ("_dashboard", score.figure)):
                    write_png(folder / f"{name}{suffix}.png", image)
                logger.image(f"eval_dashboard/{run.names[s]}/{name}", score.figure, run.step)
        per_image += [{"scene": run.names[s], **row} for row in rows] if len(run.scenes) > 1 else rows
        if len(run.scenes) > 1:
            per_scene.append({"scene": run.names[s], **_summarise(rows)})
    if logger is not None:
        logger.close()
    results = _summarise(per_image)
    if lpips_model is None:
        results["lpips_status"] = f"unavailable: {found}"
    elif results["lpips"] is None:
        results["lpips_status"] = f"unavailable: images smaller than {MIN_SIDE} px on a side"
    else:
        results["lpips_status"] = f"AlexNet, LPIPS v0.1 heads ({found[0].name}, {found[1]})"
    results.update(num_rays_per_sec=pixels / max(total_seconds, 1e-9), fps=len(per_image) / max(total_seconds, 1e-9))
    result = {
        "experiment_name": run.run_dir.parent.parent.name,
        "method_name": getattr(run.config, "method_name", getattr(run.config, "kind", run.task)),
        "task": run.task,
        "space": run.space.name,
        "checkpoint": str(run.checkpoint),
        "step": run.step,
        "split": cfg.split,
        "results": results,
        "per_image": per_image,
    }
    if per_scene:
        result["per_scene"] = per_scene
    save_json_atomic(out_path, result)
    return result
