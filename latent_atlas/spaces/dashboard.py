"""Dashboard figures a reader can follow without the source: labelled panels (render, ground truth, error map;
in a latent space also the autoencoder's reconstruction and both latents channel by channel), each view's
metrics in the titles, small images upscaled to a readable size."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

MIN_PANEL_HEIGHT = 192
"""Panels are upscaled (by whole factors, nearest neighbour) to at least this many pixels high."""
TITLE_HEIGHT = 32
"""Two lines of 13 px text: what the panel shows, then its metrics."""
GAP = 4

_MAP = torch.tensor([[0.05, 0.03, 0.35], [0.23, 0.32, 0.55], [0.13, 0.57, 0.55], [0.37, 0.79, 0.38], [0.99, 0.91, 0.15]])
"""Five stops of a perceptually ordered colour map (dark blue -> teal -> green -> yellow)."""


def colour_map(values: Tensor) -> Tensor:
    """values [H, W, 1] in [0, 1] -> RGB [H, W, 3] along _MAP (piecewise linear)."""
    x = values.clamp(0, 1)[..., 0] * (len(_MAP) - 1)
    low = x.floor().long().clamp(max=len(_MAP) - 2)
    t = (x - low)[..., None]
    return _MAP[low] * (1 - t) + _MAP[low + 1] * t


@dataclass
class Panel:
    """An image [H, W, 3] in [0, 1] with its title drawn above it (a second line, after a newline, for metrics)."""

    title: str
    image: Tensor


def error_map(render: Tensor, target: Tensor, gain: float = 4.0) -> Tensor:
    """|render - target| averaged over channels, times `gain`, through colour_map: [H, W, 3]."""
    return colour_map(((render - target).abs().mean(-1, keepdim=True) * gain).clamp(0, 1))


def upscale(image: Tensor, height: int) -> Tensor:
    """Upscales [h, w, C] by the whole factor that brings it to at least `height` rows (nearest neighbour):
    latent-resolution outputs beside decoded RGB, small views in a dashboard."""
    factor = max(1, math.ceil(height / image.shape[0]))
    return image.repeat_interleave(factor, 0).repeat_interleave(factor, 1)


def _font(size: int = 13):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: a fixed bitmap font
        return ImageFont.load_default()


def compose(rows: list[list[Panel]]) -> Tensor:
    """Rows of panels as one figure [H, W, 3]: each panel upscaled to MIN_PANEL_HEIGHT (or its row's tallest),
    its title above it, white gaps between."""
    font = _font()
    rendered_rows = []
    for row in rows:
        height = max(MIN_PANEL_HEIGHT, max(p.image.shape[0] for p in row))
        cells = []
        for panel in row:
            image = upscale(panel.image.detach().float().cpu().clamp(0, 1), height)[:height]
            if image.shape[0] < height:
                image = torch.cat([image, torch.ones(height - image.shape[0], image.shape[1], 3)])
            canvas = Image.new("RGB", (image.shape[1], TITLE_HEIGHT + height), "white")
            canvas.paste(Image.fromarray((image.numpy() * 255 + 0.5).astype(np.uint8)), (0, TITLE_HEIGHT))
            draw = ImageDraw.Draw(canvas)
            for line_index, line in enumerate(panel.title.split("\n")[:2]):
                while len(line) > 1 and draw.textlength(line, font=font) > image.shape[1] - 4:  # shorten to fit
                    line = line[:-2] + "…"
                draw.text((2, 1 + 15 * line_index), line, fill=(20, 20, 20) if line_index == 0 else (70, 70, 160), font=font)
            cells.append(torch.from_numpy(np.asarray(canvas, dtype=np.float32) / 255.0))
        gap = torch.ones(TITLE_HEIGHT + height, GAP, 3)
        rendered_rows.append(torch.cat([c for cell in cells for c in (cell, gap)][:-1], dim=1))
    width = max(r.shape[1] for r in rendered_rows)
    padded = [torch.cat([r, torch.ones(r.shape[0], width - r.shape[1], 3)], dim=1) for r in rendered_rows]
    return torch.cat([c for r in padded for c in (r, torch.ones(GAP, width, 3))][:-1], dim=0)


def channel_grid(values: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    """Latent channels [h, w, C] as grey tiles in a ceil(sqrt(C))-column grid, 1 px apart: [H', W', 3].

    Each channel is stretched from lo[c] to hi[c] ([C]), so a render and its ground truth share one scale.
    """
    h, w, c = values.shape
    cols = math.ceil(math.sqrt(c))
    rows = math.ceil(c / cols)
    scaled = ((values - lo) / (hi - lo).clamp_min(1e-6)).clamp(0, 1)
    canvas = torch.ones(rows * (h + 1) - 1, cols * (w + 1) - 1)
    for i in range(c):
        r, q = divmod(i, cols)
        canvas[r * (h + 1) : r * (h + 1) + h, q * (w + 1) : q * (w + 1) + w] = scaled[..., i]
    return canvas[..., None].expand(-1, -1, 3)


def _scores(group: dict[str, float] | None) -> str:
    return "" if not group else f"\nPSNR {group['psnr']:.2f} dB, SSIM {group['ssim']:.3f}"


def latent_dashboard(
    render_latent: Tensor, decoded: Tensor, target: Tensor, target_latent: Tensor, reconstruction: Tensor, groups: dict | None = None
) -> Tensor:
    """Top: decoded render | ground truth | autoencoder reconstruction | error of the decoded render ([H, W, 3]
    each); below: the render's latent channels | the ground truth's latents ([h, w, C] each, one scale)."""
    groups = groups or {}
    lo = torch.minimum(render_latent.amin((0, 1)), target_latent.amin((0, 1))).cpu()
    hi = torch.maximum(render_latent.amax((0, 1)), target_latent.amax((0, 1))).cpu()
    channels = render_latent.shape[-1]
    top = [
        Panel(f"decoded render{_scores(groups.get('metrics_d'))}", decoded.cpu()),
        Panel("ground truth", target.cpu()),
        Panel(f"AE reconstruction{_scores(groups.get('metrics_ae'))}", reconstruction.cpu()),
        Panel("error |decoded - truth| x4", error_map(decoded.cpu(), target.cpu())),
    ]
    bottom = [
        Panel(f"render latents, {channels} ch{_scores(groups.get('metrics_e'))}", channel_grid(render_latent.cpu(), lo, hi)),
        Panel(f"ground-truth latents, {channels} ch", channel_grid(target_latent.cpu(), lo, hi)),
    ]
    return compose([top, bottom])


def rgb_dashboard(render: Tensor, target: Tensor, groups: dict[str, dict[str, float]]) -> Tensor:
    """render | ground truth | error map, labelled: [H', W', 3]."""
    render, target = render.cpu().clamp(0, 1), target.cpu().clamp(0, 1)
    headline = next(iter(groups.values()), None)
    return compose(
        [[Panel(f"render{_scores(headline)}", render), Panel("ground truth", target), Panel("error |render - truth| x4", error_map(render, target))]]
    )
