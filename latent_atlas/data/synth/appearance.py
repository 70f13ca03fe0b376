"""Surface appearance of synthesized solids (pure functions): patterns and image textures for the albedo, and a
Blinn-Phong highlight, so that scenes have the fine detail and view dependence real objects have."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from latent_atlas.data.synth.sdf import Primitive, local_points

TEXTURE_SIZE = 32
"""Side of a mosaic texture image (texels)."""
SHININESS = 32.0
"""Blinn-Phong exponent of the highlights."""


def mosaic_texture(seed: int) -> Tensor:
    """A random colour image [S, S, 3] from `seed`: blocks of 1-4 texels of random saturated-ish colours."""
    g = torch.Generator().manual_seed(seed)
    block = int(torch.randint(1, 5, (), generator=g))
    coarse = torch.rand(TEXTURE_SIZE // block + 1, TEXTURE_SIZE // block + 1, 3, generator=g) ** 1.5
    return coarse.repeat_interleave(block, 0).repeat_interleave(block, 1)[:TEXTURE_SIZE, :TEXTURE_SIZE]


def pattern_mix(local: Tensor, prim: Primitive) -> Tensor:
    """Weight [n] of color2 at local points [n, 3] for the primitive's pattern (0: plain)."""
    s = prim.pattern_scale
    if prim.pattern == "checker":
        return (torch.floor(s * local).sum(-1) % 2).float()
    if prim.pattern == "stripes":
        return (torch.floor(s * (local[:, 0] + 0.5 * local[:, 2])) % 2).float()
    if prim.pattern == "dots":
        cell = s * local - torch.floor(s * local) - 0.5
        return (cell.norm(dim=-1) < 0.3).float()
    return torch.zeros(local.shape[0], device=local.device)


def albedo(points: Tensor, prim: Primitive, scale: float) -> Tensor:
    """Albedo [n, 3] of surface points [n, 3] (world, scaled scene) on one primitive."""
    base = torch.tensor(prim.color, device=points.device).expand(points.shape[0], 3)
    if prim.pattern == "plain":
        return base
    local = local_points(points / scale, prim)
    if prim.pattern == "mosaic":  # the texture wrapped around the local z axis (u: angle, v: height)
        texture = mosaic_texture(prim.texture_seed).to(points.device)
        u = (torch.atan2(local[:, 1], local[:, 0]) / (2 * math.pi) + 0.5) * prim.pattern_scale / 4
        v = local[:, 2] * prim.pattern_scale / 4 + 0.5
        i = (torch.floor(v * TEXTURE_SIZE).long() % TEXTURE_SIZE, torch.floor(u * TEXTURE_SIZE).long() % TEXTURE_SIZE)
        return texture[i]
    mix = pattern_mix(local, prim)[:, None]
    return base * (1 - mix) + torch.tensor(prim.color2, device=points.device) * mix


def highlight(normals: Tensor, view_directions: Tensor, light: Tensor, strength: Tensor) -> Tensor:
    """Blinn-Phong highlight [n]: strength [n] * max(0, n . h)^SHININESS, h halfway between the light [3] and the
    direction back to the eye (-view_directions [n, 3])."""
    half = torch.nn.functional.normalize(light[None] - view_directions, dim=-1)
    return strength * (normals * half).sum(-1).clamp_min(0.0) ** SHININESS
