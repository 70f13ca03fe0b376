"""Sphere tracing of an SDF scene with Lambert shading (one sun + ambient), with supersampling."""

from __future__ import annotations

import torch
from torch import Tensor

from latent_atlas.cameras import Cameras
from latent_atlas.data.synth.sdf import Primitive, scene_sdf

SUN_DIRECTION = torch.tensor([0.4, 0.3, 0.85])
AMBIENT = 0.35


def trace(origins: Tensor, directions: Tensor, prims: list[Primitive], scale: float, steps: int = 96, far: float = 6.0) -> tuple[Tensor, Tensor]:
    """Hit mask [n] and hit distance [n] of rays [n, 3] against the scene."""
    t = torch.zeros(origins.shape[0])
    hit = torch.zeros(origins.shape[0], dtype=torch.bool)
    active = torch.ones_like(hit)
    for _ in range(steps):
        if not active.any():
            break
        idx = active.nonzero()[:, 0]
        d, _ = scene_sdf(origins[idx] + directions[idx] * t[idx, None], prims, scale)
        t[idx] += d
        done_hit = d < 1e-4
        done_miss = t[idx] > far
        hit[idx[done_hit]] = True
        active[idx[done_hit | done_miss]] = False
    return hit, t


def shade(points: Tensor, prims: list[Primitive], scale: float) -> Tensor:
    """Lambert colour [n, 3] at surface points [n, 3]."""
    eps = 1e-3
    offsets = torch.eye(3) * eps
    grad = torch.stack([scene_sdf(points + o, prims, scale)[0] - scene_sdf(points - o, prims, scale)[0] for o in offsets], dim=-1)
    normals = grad / grad.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    _, index = scene_sdf(points, prims, scale)
    albedo = torch.tensor([p.color for p in prims])[index]
    sun = SUN_DIRECTION / SUN_DIRECTION.norm()
    light = AMBIENT + (1.0 - AMBIENT) * (normals @ sun).clamp_min(0.0)
    return (albedo * light[:, None]).clamp(0.0, 1.0)


def render_view(cameras: Cameras, index: int, prims: list[Primitive], scale: float, supersample: int = 2) -> Tensor:
    """RGBA image [H, W, 4] in [0, 1] (straight alpha) of camera `index`, supersampled s x s per pixel."""
    s = supersample
    fine = cameras[index].rescale(float(s))
    px, py = fine.image_pixels(0)
    origins, dirs = fine.pixel_directions(torch.zeros_like(px), px, py)
    hit, t = trace(origins, dirs, prims, scale)
    color = torch.zeros(origins.shape[0], 3)
    if hit.any():
        color[hit] = shade(origins[hit] + dirs[hit] * t[hit, None], prims, scale)
    h, w = int(cameras.height[index]), int(cameras.width[index])
    color = color.reshape(h, s, w, s, 3).sum(dim=(1, 3))
    coverage = hit.float().reshape(h, s, w, s).sum(dim=(1, 3))
    rgb = color / coverage.clamp_min(1.0)[..., None]
    return torch.cat([rgb, (coverage / (s * s))[..., None]], dim=-1)
