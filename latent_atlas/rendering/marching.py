"""Uniform ray marching with empty-space skipping and sparse field evaluation (TensoRF, instant-ngp).

A reference path in pure PyTorch: samples every `step` along each ray, drops the
ones that an occupancy test rejects, evaluates density on the rest and colour
only where the render weight is above a threshold.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from latent_atlas.backends import accelerated
from latent_atlas.cameras import RayBundle
from latent_atlas.rendering.volume import render_outputs, render_weights

# points [m, 3] -> (density [m], features [m, F] or None): features are handed on to the colour function
DensityFn = Callable[[Tensor], tuple[Tensor, Tensor | None]]
# points [m, 3], directions [m, 3], features [m, F] or None -> channels [m, C]
ColorFn = Callable[[Tensor, Tensor, Tensor | None], Tensor]
# points [m, 3] -> keep [m] (bool)
OccupancyFn = Callable[[Tensor], Tensor]


def march_samples(near: Tensor, far: Tensor, step: float, max_samples: int, jitter: bool) -> tuple[Tensor, Tensor]:
    """Distances t [n, s] every `step` from near [n] (randomly offset when `jitter`) and valid = t < far [n, s]."""
    n_rays = near.shape[0]
    span = (far - near).clamp_min(0.0)
    count = min(max_samples, math.ceil(span.max().item() / step) + 1) if n_rays else 1
    offsets = torch.arange(max(count, 1), device=near.device, dtype=near.dtype) * step
    if jitter:
        offsets = offsets + torch.rand(n_rays, 1, device=near.device) * step
    t = near[:, None] + offsets
    return t, t < far[:, None]


@accelerated(auto=False)  # compiled on CUDA, tensorf ran at 0.83x the reference's steps/s
def transmittance_before(densities: Tensor, step: float) -> Tensor:
    """Transmittance T_i [n, s] in front of each sample, for densities [n, s] spaced `step` apart."""
    optical = densities * step
    return torch.exp(-torch.cat([torch.zeros_like(optical[:, :1]), torch.cumsum(optical, dim=-1)[:, :-1]], dim=-1))


def render_marched(
    rays: RayBundle,
    t: Tensor,
    valid: Tensor,
    step: float,
    density_fn: DensityFn,
    color_fn: ColorFn,
    channels: int,
    background: Tensor,
    occupancy_fn: OccupancyFn | None = None,
    weight_threshold: float = 1e-4,
    early_stop_eps: float = 0.0,
    unshaded_color: Tensor | None = None,
) -> dict[str, Tensor]:
    """Volume rendering of marched samples t, valid [n, s]: color [n, C], acc [n, 1], depth [n, 1], weights [n, s].

    Samples with weight under `weight_threshold` skip `color_fn` and take `unshaded_color` [C] (None: zeros).

    With `early_stop_eps` > 0 and autograd on, a first pass without gradients finds the samples that
    light still reaches (transmittance above the eps, as nerfacc's early stop), and only those go
    through the field with gradients: samples behind opaque surfaces cost one cheap forward only.
    """
    points = rays.origins[:, None, :] + rays.directions[:, None, :] * t[..., None]
    valid = valid.clone()
    if occupancy_fn is not None and valid.any():
        rows, cols = valid.nonzero(as_tuple=True)
        rejected = ~occupancy_fn(points[rows, cols])
        valid[rows[rejected], cols[rejected]] = False
    if early_stop_eps > 0 and torch.is_grad_enabled() and valid.any():
        with torch.no_grad():
            sigma = torch.zeros_like(t)
            sigma[valid] = density_fn(points[valid])[0].to(t.dtype)
            valid &= transmittance_before(sigma, step) > early_stop_eps
    sigma = torch.zeros_like(t)
    features = None
    if valid.any():
        density, features = density_fn(points[valid])
        sigma[valid] = density.to(t.dtype)
    weights = render_weights(sigma, torch.full_like(t, step))
    shade = weights > weight_threshold
    if unshaded_color is None:
        rgb = torch.zeros(*t.shape, channels, device=t.device, dtype=t.dtype)
    else:
        rgb = unshaded_color.to(device=t.device, dtype=t.dtype).expand(*t.shape, channels).clone()
    if shade.any():
        directions = rays.directions[:, None, :].expand_as(points)
        shade_features = None if features is None else features[shade[valid]]
        rgb[shade] = color_fn(points[shade], directions[shade], shade_features).to(rgb.dtype)
    outputs = render_outputs(weights, rgb, t, rays.far, background)
    outputs["n_density_samples"] = valid.sum()
    return outputs
