"""Scoring a view rendered in a latent space: metrics_e, metrics_d, metrics_ae, metrics_d_ae (DESIGN.md)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from latent_atlas.data.scene import SceneSplit, composite_on_background
from latent_atlas.methods.base import Model
from latent_atlas.spaces.image_space import ImageSpace
from latent_atlas.training.dashboard import latent_dashboard
from latent_atlas.training.metrics import psnr, ssim
from latent_atlas.training.render_views import render_image

METRIC_GROUPS = ("metrics_e", "metrics_d", "metrics_ae", "metrics_d_ae")


@dataclass
class LatentViewScore:
    """Per-group {'psnr', 'ssim'} of one view, its decoded render [H, W, 3] and dashboard figure."""

    metrics: dict[str, dict[str, float]]
    decoded: Tensor
    target: Tensor
    dashboard: Tensor


def _pair(prediction: Tensor, target: Tensor) -> dict[str, float]:
    return {"psnr": psnr(prediction, target), "ssim": ssim(prediction, target)}


@torch.no_grad()
def score_latent_view(model: Model, space: ImageSpace, latent_split: SceneSplit, rgb_split: SceneSplit, index: int, background_value: Tensor, rgb_background: Tensor, box_min: Tensor, box_max: Tensor, chunk: int = 4096) -> LatentViewScore:
    """Renders view `index` in latent space and scores it against the encoded and the RGB ground truth."""
    render = render_image(model, latent_split.cameras, index, background_value, box_min, box_max, chunk)["color"].cpu()
    target_latent = latent_split.rgba(index)[..., :-1]
    target = composite_on_background(rgb_split.rgba(index), rgb_background.cpu())
    decoded = space.decode(render[None])[0].cpu()
    reconstruction = space.decode(target_latent[None])[0].cpu()
    metrics = {
        "metrics_e": _pair(render, target_latent),
        "metrics_d": _pair(decoded, target),
        "metrics_ae": _pair(reconstruction, target),
        "metrics_d_ae": _pair(decoded, reconstruction),
    }
    return LatentViewScore(metrics, decoded, target, latent_dashboard(render, decoded, target, target_latent, reconstruction))
