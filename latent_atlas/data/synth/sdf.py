"""Signed distance functions of primitives and of a scene made of them (pure functions)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor

from latent_atlas.config_io import save_json_atomic

PRIMITIVES = ("sphere", "box", "cylinder", "torus")
PRIMITIVES_FILE = "primitives.json"
"""Written beside each synthesized scene: its solids and scale, so that meshes can be scored against the true surface."""


PATTERNS = ("plain", "checker", "stripes", "dots", "mosaic")


@dataclass
class Primitive:
    """One solid: kind, centre [3], size parameters, colour [3] in [0, 1], axis (0/1/2) and rotation about z, and
    its surface: a pattern mixing `color` with `color2` (`pattern_scale` cells per unit; mosaic: a random colour
    image drawn from `texture_seed`, wrapped around it) and a specular highlight of strength `specular`."""

    kind: str
    center: tuple[float, float, float]
    size: tuple[float, ...]
    color: tuple[float, float, float]
    axis: int = 2
    rotation_z: float = 0.0
    rounding: float = 0.0
    pattern: str = "plain"
    color2: tuple[float, float, float] = (0.0, 0.0, 0.0)
    pattern_scale: float = 8.0
    texture_seed: int = 0
    specular: float = 0.0


def local_points(points: Tensor, prim: Primitive) -> Tensor:
    """Points [n, 3] in the primitive's own frame (centred, unrotated, its axis along z)."""
    return _local(points, prim)


def _local(points: Tensor, prim: Primitive) -> Tensor:
    """Points [n, 3] in the primitive's frame, with its axis moved to z."""
    p = points - torch.tensor(prim.center, dtype=points.dtype, device=points.device)
    if prim.rotation_z:
        c, s = torch.cos(torch.tensor(-prim.rotation_z)), torch.sin(torch.tensor(-prim.rotation_z))
        p = torch.stack([c * p[:, 0] - s * p[:, 1], s * p[:, 0] + c * p[:, 1], p[:, 2]], dim=-1)
    if prim.axis == 2:
        return p
    return p.roll(1 if prim.axis == 1 else -1, dims=1)  # axis 1: (z, x, y); axis 0: (y, z, x) (3x faster than p[:, order])


def primitive_sdf(points: Tensor, prim: Primitive) -> Tensor:
    """Signed distance [n] from points [n, 3] to one primitive."""
    p = _local(points, prim)
    if prim.kind == "sphere":
        return p.norm(dim=-1) - prim.size[0]
    if prim.kind == "box":
        half = torch.tensor(prim.size[:3], dtype=p.dtype, device=p.device) - prim.rounding
        q = p.abs() - half
        return q.clamp_min(0).norm(dim=-1) + q.amax(dim=-1).clamp_max(0) - prim.rounding
    if prim.kind == "cylinder":  # radius, half height, along the local z axis
        d = torch.stack([p[:, :2].norm(dim=-1) - prim.size[0], p[:, 2].abs() - prim.size[1]], dim=-1)
        return d.amax(dim=-1).clamp_max(0) + d.clamp_min(0).norm(dim=-1)
    if prim.kind == "torus":  # major radius, minor radius, in the local xy plane
        q = torch.stack([p[:, :2].norm(dim=-1) - prim.size[0], p[:, 2]], dim=-1)
        return q.norm(dim=-1) - prim.size[1]
    raise ValueError(f"unknown primitive '{prim.kind}'")


def scene_sdf(points: Tensor, prims: list[Primitive], scale: float = 1.0) -> tuple[Tensor, Tensor]:
    """Distance [n] to the union of primitives (scaled by `scale` about the origin) and the nearest primitive's index [n]."""
    unscaled = points / scale
    distances = torch.stack([primitive_sdf(unscaled, prim) for prim in prims], dim=-1) * scale
    value, index = distances.min(dim=-1)
    return value, index


def bounding_radius(prims: list[Primitive], resolution: int = 48, margin: float = 0.0) -> float:
    """Radius of the origin-centred sphere holding the solid, from a grid over [-2, 2]^3: grid points closer than
    `margin` to it count (thin parts can fall between grid points; the first families use 0)."""
    axis = torch.linspace(-2.0, 2.0, resolution)
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)
    inside = scene_sdf(grid, prims)[0] < margin
    if not inside.any():
        return 1.0
    cell = 4.0 / (resolution - 1)
    return grid[inside].norm(dim=-1).max().item() + cell


def save_primitives(path: Path, prims: list[Primitive], scale: float, motions: list | None = None) -> None:
    """Writes a scene's primitives (a dynamic scene's rest pose, with each one's motion) and scale as JSON."""
    data = {"scale": scale, "primitives": [asdict(p) for p in prims]}
    if motions is not None:
        data["motions"] = [asdict(m) for m in motions]
    save_json_atomic(Path(path), data)


def load_primitives(path: Path) -> tuple[list[Primitive], float]:
    """(primitives, scale) of a scene written by save_primitives."""
    data = json.loads(Path(path).read_text())
    prims = [Primitive(**{k: tuple(v) if isinstance(v, list) else v for k, v in p.items()}) for p in data["primitives"]]
    return prims, float(data["scale"])
