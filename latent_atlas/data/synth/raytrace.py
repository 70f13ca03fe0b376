"""Sphere tracing of an SDF scene with Lambert shading (one sun + ambient), with supersampling."""

from __future__ import annotations

import torch
from torch import Tensor

from latent_atlas.cameras import Cameras
from latent_atlas.data.synth.appearance import albedo, highlight
from latent_atlas.data.synth.sdf import Primitive, scene_sdf

SUN_DIRECTION = torch.tensor([0.4, 0.3, 0.85])
AMBIENT = 0.35


def bounding_sphere_span(origins: Tensor, directions: Tensor, radius: float) -> tuple[Tensor, Tensor, Tensor]:
    """Whether rays [n, 3] (unit directions) meet the origin-centred sphere [n], and the distances to where they
    enter it [n] (0 inside) and leave it [n]."""
    along = -(origins * directions).sum(dim=-1)  # distance to the point closest to the centre
    closest_sq = (origins * origins).sum(dim=-1) - along**2
    half_chord = (radius**2 - closest_sq).clamp_min(0.0).sqrt()
    meets = (closest_sq <= radius**2) & (along + half_chord > 0)
    return meets, (along - half_chord).clamp_min(0.0), along + half_chord


def trace(
    origins: Tensor, directions: Tensor, prims: list[Primitive], scale: float, steps: int = 96, far: float = 6.0, radius: float | None = None
) -> tuple[Tensor, Tensor]:
    """Hit mask [n] and hit distance [n] of rays [n, 3] against the scene (misses stop beyond `far`).

    With `radius` (a sphere about the origin holding the whole solid), rays that miss it are misses at once, the
    others start where they enter it and are misses once they leave it: the same hits in fewer steps. The rays
    still marching are kept as compact tensors, so that late steps, when few rays are left, cost little.
    """
    t = torch.zeros(origins.shape[0], device=origins.device)
    hit = torch.zeros(origins.shape[0], dtype=torch.bool, device=origins.device)
    limit = torch.full_like(t, far)
    marching = torch.arange(origins.shape[0], device=origins.device)
    if radius is not None:
        meets, t, limit = bounding_sphere_span(origins, directions, radius)
        marching = meets.nonzero()[:, 0]
    o, d, reach, stop = origins[marching], directions[marching], t[marching], limit[marching]
    for _ in range(steps):
        if marching.numel() == 0:
            break
        distance, _ = scene_sdf(o + d * reach[:, None], prims, scale)
        reach = reach + distance
        t[marching] = reach
        arrived = distance < 1e-4
        hit[marching[arrived]] = True
        going = ~arrived & (reach <= stop)
        marching, o, d, reach, stop = marching[going], o[going], d[going], reach[going], stop[going]
    return hit, t


def shade(points: Tensor, prims: list[Primitive], scale: float, view_directions: Tensor | None = None) -> Tensor:
    """Colour [n, 3] at surface points [n, 3]: the primitive's albedo (pattern, texture) under Lambert shading
    (one sun + ambient), plus its specular highlight seen along view_directions [n, 3] (when given)."""
    eps = 1e-3
    offsets = torch.eye(3, device=points.device) * eps
    grad = torch.stack([scene_sdf(points + o, prims, scale)[0] - scene_sdf(points - o, prims, scale)[0] for o in offsets], dim=-1)
    normals = grad / grad.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    _, index = scene_sdf(points, prims, scale)
    colour = torch.zeros(points.shape[0], 3, device=points.device)
    for i, prim in enumerate(prims):
        on = index == i
        if on.any():
            colour[on] = albedo(points[on], prim, scale)
    sun = (SUN_DIRECTION / SUN_DIRECTION.norm()).to(points.device)
    colour = colour * (AMBIENT + (1.0 - AMBIENT) * (normals @ sun).clamp_min(0.0))[:, None]
    strength = torch.tensor([p.specular for p in prims], device=points.device)[index]
    if view_directions is not None and bool((strength > 0).any()):
        colour = colour + highlight(normals, view_directions, sun, strength)[:, None]
    return colour.clamp(0.0, 1.0)


def sky_colour(directions: Tensor) -> Tensor:
    """Surroundings [n, 3] seen in unit directions [n, 3] (+z up): a warm horizon to a blue zenith, brown below."""
    up = directions[:, 2:3]
    horizon, zenith, ground = (torch.tensor(c, device=directions.device) for c in ([0.92, 0.8, 0.62], [0.25, 0.45, 0.85], [0.4, 0.32, 0.24]))
    above = horizon + (zenith - horizon) * up.clamp(0, 1).sqrt()
    below = horizon + (ground - horizon) * (-up).clamp(0, 1).sqrt()
    return torch.where(up >= 0, above, below)


def render_views(
    cameras: Cameras, prims: list[Primitive], scale: float, supersample: int = 2, radius: float | None = None, sky: bool = False, device: str = "cpu"
) -> Tensor:
    """RGBA images [V, H, W, 4] in [0, 1] (straight alpha, on the CPU) of all V cameras (one size), supersampled s x s per
    pixel, traced on `device`; with `sky`, opaque images whose misses show sky_colour of their direction.

    All views are traced in one batch (the per-step cost is Python overhead, not arithmetic, at these sizes).
    """
    s = supersample
    fine = cameras.rescale(float(s)).to(device)
    views = len(cameras.camera_to_worlds)
    h, w = int(cameras.height[0]), int(cameras.width[0])
    if not (torch.all(cameras.height == h) and torch.all(cameras.width == w)):
        raise ValueError("render_views: all cameras must share one image size")
    px, py = fine.image_pixels(0)
    cams = torch.arange(views, device=device).repeat_interleave(px.numel())
    origins, dirs = fine.pixel_directions(cams, px.repeat(views), py.repeat(views))
    hit, t = trace(origins, dirs, prims, scale, radius=radius)
    color = torch.zeros(origins.shape[0], 3, device=device)
    if hit.any():
        color[hit] = shade(origins[hit] + dirs[hit] * t[hit, None], prims, scale, dirs[hit])
    if sky:
        color[~hit] = sky_colour(dirs[~hit])
        hit = torch.ones_like(hit)
    color = color.reshape(views, h, s, w, s, 3).sum(dim=(2, 4))
    coverage = hit.float().reshape(views, h, s, w, s).sum(dim=(2, 4))
    rgb = color / coverage.clamp_min(1.0)[..., None]
    return torch.cat([rgb, (coverage / (s * s))[..., None]], dim=-1).cpu()


def render_view(cameras: Cameras, index: int, prims: list[Primitive], scale: float, supersample: int = 2) -> Tensor:
    """RGBA image [H, W, 4] in [0, 1] (straight alpha) of camera `index`, supersampled s x s per pixel."""
    return render_views(cameras[index], prims, scale, supersample)[0]
