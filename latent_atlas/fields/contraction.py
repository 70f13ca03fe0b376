"""Scene contraction for unbounded scenes (mip-NeRF 360): points outside the unit ball map into radius 2."""

from __future__ import annotations

import torch
from torch import Tensor

CONTRACTIONS = ("none", "l2", "linf")


def contract(points: Tensor, kind: str) -> Tensor:
    """points [m, 3] -> contracted points [m, 3]; |x| <= 1 unchanged, else (2 - 1/|x|) x/|x| (L2 or L-inf norm)."""
    if kind == "none":
        return points
    if kind not in CONTRACTIONS:
        raise ValueError(f"unknown contraction '{kind}' (choose from {', '.join(CONTRACTIONS)})")
    norm = points.norm(dim=-1, keepdim=True) if kind == "l2" else points.abs().amax(dim=-1, keepdim=True)
    safe = norm.clamp_min(1e-9)
    return torch.where(norm <= 1.0, points, (2.0 - 1.0 / safe) * points / safe)


def to_unit_cube(points: Tensor, box_min: Tensor, box_max: Tensor, kind: str) -> Tensor:
    """World points [m, 3] -> [0, 1]^3 for grid encodings: the box (no contraction) or the radius-2 contracted space."""
    if kind == "none":
        return (points - box_min) / (box_max - box_min)
    return (contract(points, kind) + 2.0) / 4.0
