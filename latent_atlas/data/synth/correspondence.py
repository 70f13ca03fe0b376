"""Where each latent pixel of one view of a synthesized scene shows up in a neighbouring view (traced from the scene's
primitives.json): the pairs a view-consistency loss compares (spaces/equivariance.py's view_consistency).

A latent NeRF fits one value per surface point; it can only fit latents that code a surface point the same way in
every view that sees it. These pairs say, for view B's latent pixel centres, where the same surface point lies in
view A (in grid_sample coordinates) and whether the comparison is fair there (the point seen by both, away from
silhouettes, whose latents mix in the background).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from latent_atlas.cameras import Cameras
from latent_atlas.data.loading import load_scene
from latent_atlas.data.synth.raytrace import trace
from latent_atlas.data.synth.sdf import PRIMITIVES_FILE, Primitive, load_primitives
from latent_atlas.errors import DataError

VISIBILITY_TOLERANCE = 0.02
"""A surface point counts as seen from view A when A's ray towards it stops within this distance of it."""


@dataclass
class ViewPairs:
    """Pairs of views of scenes: view B's latent pixels and the same surface points' places in view A."""

    images: Tensor
    """uint8 RGBA images [V, H, W, 4] of all the views the pairs index."""
    target: Tensor
    """View B of each pair [P] (index into images)."""
    source: Tensor
    """View A of each pair [P] (index into images), whose latents are resampled at B's surface points."""
    grid: Tensor
    """[P, h, w, 2] x, y in [-1, 1] (grid_sample, align_corners=False) of B's latent pixel centres' surface points in A."""
    mask: Tensor
    """bool [P, h, w]: B's latent pixel shows a surface point that A sees, both away from silhouettes (all False
    for a pair that shares none: thin solids, views too small or too far apart)."""

    def __len__(self) -> int:
        return int(self.target.shape[0])

    @staticmethod
    def cat(parts: list[ViewPairs]) -> ViewPairs:
        """The pairs of several scenes in one set (image indices shifted)."""
        offsets = torch.tensor([0] + [p.images.shape[0] for p in parts[:-1]]).cumsum(0).tolist()
        return ViewPairs(
            torch.cat([p.images for p in parts]),
            torch.cat([p.target + o for p, o in zip(parts, offsets)]),
            torch.cat([p.source + o for p, o in zip(parts, offsets)]),
            torch.cat([p.grid for p in parts]),
            torch.cat([p.mask for p in parts]),
        )


def project(cameras: Cameras, index: int, points: Tensor) -> tuple[Tensor, Tensor]:
    """Image coordinates [n, 2] (x, y in pixels, 0 = the image's left / top edge) of world points [n, 3] in camera
    `index`, and their depth along its viewing axis [n] (positive in front)."""
    c2w = cameras.camera_to_worlds[index]
    local = (points - c2w[:3, 3]) @ c2w[:3, :3]  # camera frame: x right, y up, looking along -z
    depth = -local[:, 2]
    safe = depth.clamp_min(1e-6)
    x = cameras.fx[index] * local[:, 0] / safe + cameras.cx[index]
    y = -cameras.fy[index] * local[:, 1] / safe + cameras.cy[index]
    return torch.stack([x, y], dim=-1), depth


def interior(hit: Tensor) -> Tensor:
    """hit [V, h, w] eroded by one pixel (all 3x3 neighbours hit, the image border counting as a miss): pixels whose
    window holds no background."""
    misses = F.pad((~hit).float()[:, None], (1, 1, 1, 1), value=1.0)
    return F.max_pool2d(misses, 3, stride=1)[:, 0] < 0.5


def nearest_views(cameras: Cameras, count: int) -> Tensor:
    """For each view, the `count` other views whose centres are closest in direction from the origin [V, count]."""
    centres = cameras.camera_to_worlds[:, :3, 3]
    unit = centres / centres.norm(dim=-1, keepdim=True)
    similarity = unit @ unit.T
    similarity.fill_diagonal_(-2.0)
    return similarity.topk(min(count, len(cameras) - 1), dim=1).indices


def view_pairs(images: Tensor, cameras: Cameras, prims: list[Primitive], scale: float, factor: int, neighbours: int = 1) -> ViewPairs:
    """Pairs (B, A) of each view B with its `neighbours` nearest views A, compared on B's latent grid (its image
    size / factor): images [V, H, W, 4] uint8 with their cameras; prims and scale as the scene was rendered."""
    latent = cameras.rescale(1.0 / factor)
    views, h, w = len(cameras), int(latent.height[0]), int(latent.width[0])
    px, py = latent.image_pixels(0)
    cams = torch.arange(views).repeat_interleave(px.numel())
    origins, dirs = latent.pixel_directions(cams, px.repeat(views), py.repeat(views))
    hit, t = trace(origins, dirs, prims, scale)
    points = (origins + dirs * t[:, None]).reshape(views, h * w, 3)
    hit = hit.reshape(views, h, w)
    inner = interior(hit)
    targets, sources, grids, masks = [], [], [], []
    nearest = nearest_views(cameras, neighbours)
    for b in range(views):
        for a in nearest[b].tolist():
            xy, depth = project(latent, a, points[b])
            towards = points[b] - latent.camera_to_worlds[a, :3, 3]
            distance = towards.norm(dim=-1)
            seen, reach = trace(latent.camera_to_worlds[a, :3, 3].expand(h * w, 3), towards / distance[:, None], prims, scale)
            visible = seen & ((reach - distance).abs() < VISIBILITY_TOLERANCE) & (depth > 0)
            column, row = xy[:, 0].floor().long(), xy[:, 1].floor().long()
            inside = (column >= 0) & (column < w) & (row >= 0) & (row < h)
            inner_a = torch.zeros_like(inside)
            inner_a[inside] = inner[a][row[inside], column[inside]]
            masks.append(inner[b] & (visible & inside & inner_a).reshape(h, w))
            grids.append(torch.stack([2.0 * xy[:, 0] / w - 1.0, 2.0 * xy[:, 1] / h - 1.0], dim=-1).reshape(h, w, 2))
            targets.append(b)
            sources.append(a)
    return ViewPairs(images, torch.tensor(targets), torch.tensor(sources), torch.stack(grids), torch.stack(masks))


def scene_view_pairs(folder: Path, factor: int, neighbours: int = 1, split: str = "train") -> ViewPairs:
    """view_pairs of one synthesized scene folder (its primitives.json and a split's views)."""
    if not (folder / PRIMITIVES_FILE).is_file():
        raise DataError(folder, f"no {PRIMITIVES_FILE}: view pairs need a scene written by `latlas data synth`")
    prims, scale = load_primitives(folder / PRIMITIVES_FILE)
    if "motions" in json.loads((folder / PRIMITIVES_FILE).read_text()):
        raise DataError(folder, "a dynamic scene: its views show moving parts, so their surface points cannot be paired")
    data = load_scene(folder).splits[split]
    h, w = data.images.shape[1:3]
    if h % factor or w % factor:
        raise DataError(folder, f"views of {w}x{h} pixels are not divisible by the autoencoder's factor {factor}")
    return view_pairs(data.images, data.cameras, prims, scale, factor, neighbours)
