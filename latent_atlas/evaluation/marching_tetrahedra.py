"""Iso-surface extraction by marching tetrahedra (pure functions): a grid of values -> a watertight triangle mesh.

Each grid cube is cut into six tetrahedra around its main diagonal (the same cut in every cube, so faces of
neighbouring cubes match); a tetrahedron whose corners straddle the level contributes one triangle (one corner
apart) or two (two and two). Vertices lie on grid edges, interpolated linearly, and are shared between
tetrahedra; triangles face from inside (values below the level) to outside.
"""

from __future__ import annotations

import torch
from torch import Tensor

# cube corners c = x + 2y + 4z; six tetrahedra around the diagonal 0-7
CUBE_TETRAHEDRA = torch.tensor([[0, 1, 3, 7], [0, 3, 2, 7], [0, 2, 6, 7], [0, 6, 4, 7], [0, 4, 5, 7], [0, 5, 1, 7]])
CORNER_OFFSETS = torch.tensor([[c & 1, (c >> 1) & 1, (c >> 2) & 1] for c in range(8)])
TET_EDGES = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))


def _edge(a: int, b: int) -> int:
    return TET_EDGES.index((min(a, b), max(a, b)))


def _triangle_table() -> tuple[Tensor, Tensor]:
    """For each of the 16 inside/outside patterns of a tetrahedron's corners: up to two triangles as tet-edge
    indices [16, 2, 3] (unused rows -1) and how many [16]."""
    table = torch.full((16, 2, 3), -1, dtype=torch.long)
    counts = torch.zeros(16, dtype=torch.long)
    for code in range(1, 15):
        inside = [k for k in range(4) if code >> k & 1]
        lone = inside if len(inside) == 1 else [k for k in range(4) if k not in inside] if len(inside) == 3 else None
        if lone is not None:
            a = lone[0]
            others = [k for k in range(4) if k != a]
            table[code, 0] = torch.tensor([_edge(a, o) for o in others])
            counts[code] = 1
        else:
            a, b = inside
            c, d = (k for k in range(4) if k not in inside)
            table[code, 0] = torch.tensor([_edge(a, c), _edge(a, d), _edge(b, d)])
            table[code, 1] = torch.tensor([_edge(a, c), _edge(b, d), _edge(b, c)])
            counts[code] = 2
    return table, counts


TRIANGLE_TABLE, TRIANGLE_COUNTS = _triangle_table()


def marching_tetrahedra(values: Tensor, box_min: Tensor, box_max: Tensor, level: float = 0.0) -> tuple[Tensor, Tensor]:
    """Surface {values = level} of a grid of values [X, Y, Z] spanning the box [3]..[3] (grid points on its
    corners): vertices [V, 3] and triangles [F, 3] (vertex indices, counter-clockwise seen from outside)."""
    values = values.float()
    sizes = torch.tensor(values.shape)
    if (sizes < 2).any():
        raise ValueError("marching_tetrahedra needs at least 2 grid points per axis")
    inside = values < level
    # cubes whose corners straddle the level
    corner_inside = torch.stack([inside[cx : cx + sizes[0] - 1, cy : cy + sizes[1] - 1, cz : cz + sizes[2] - 1] for cx, cy, cz in CORNER_OFFSETS.tolist()])
    mixed = corner_inside.any(0) & ~corner_inside.all(0)
    cubes = mixed.nonzero()  # [K, 3]
    if len(cubes) == 0:
        return torch.zeros(0, 3), torch.zeros(0, 3, dtype=torch.long)
    corner_ijk = cubes[:, None, :] + CORNER_OFFSETS[None]  # [K, 8, 3]
    tet_ijk = corner_ijk[:, CUBE_TETRAHEDRA].reshape(-1, 4, 3)  # [K * 6, 4, 3]
    flat = (tet_ijk[..., 0] * sizes[1] + tet_ijk[..., 1]) * sizes[2] + tet_ijk[..., 2]  # [T, 4] grid point ids
    tet_values = values.reshape(-1)[flat]
    codes = ((tet_values < level).long() << torch.arange(4)).sum(-1)
    n_tris = TRIANGLE_COUNTS[codes]
    keep = n_tris > 0
    flat, tet_values, codes, tet_ijk = flat[keep], tet_values[keep], codes[keep], tet_ijk[keep]
    tris = TRIANGLE_TABLE[codes]  # [T, 2, 3] tet-edge indices
    valid = tris[:, :, 0] >= 0  # [T, 2]
    tet_of_tri = torch.arange(len(codes))[:, None].expand(-1, 2)[valid]
    tri_edges = tris[valid]  # [F, 3]
    edge_ends = torch.tensor(TET_EDGES)  # [6, 2]
    ends = edge_ends[tri_edges]  # [F, 3, 2] tet corners
    a = flat[tet_of_tri[:, None], ends[..., 0]]
    b = flat[tet_of_tri[:, None], ends[..., 1]]
    n_points = int(sizes.prod())
    keys = torch.minimum(a, b) * n_points + torch.maximum(a, b)
    unique_keys, faces = torch.unique(keys.reshape(-1), return_inverse=True)
    faces = faces.reshape(-1, 3)
    p, q = unique_keys // n_points, unique_keys % n_points
    flat_values = values.reshape(-1)
    fp, fq = flat_values[p], flat_values[q]
    t = ((level - fp) / (fq - fp).where((fq - fp).abs() > 1e-12, torch.ones_like(fp))).clamp(0.0, 1.0)
    spacing = (box_max.float() - box_min.float()) / (sizes - 1).float()

    def position(ids: Tensor) -> Tensor:
        ijk = torch.stack([ids // (sizes[1] * sizes[2]), (ids // sizes[2]) % sizes[1], ids % sizes[2]], dim=-1).float()
        return box_min.float() + ijk * spacing

    vertices = position(p) + t[:, None] * (position(q) - position(p))
    # orient each triangle from its tetrahedron's inside corners towards its outside corners
    tet_pos = box_min.float() + tet_ijk[tet_of_tri].float() * spacing  # [F, 4, 3]
    tet_in = (tet_values[tet_of_tri] < level).float()[..., None]
    outward = (tet_pos * (1 - tet_in)).sum(1) / (1 - tet_in).sum(1) - (tet_pos * tet_in).sum(1) / tet_in.sum(1)
    v = vertices[faces]
    normal = torch.linalg.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    flip = (normal * outward).sum(-1) < 0
    faces[flip] = faces[flip][:, [0, 2, 1]]
    area_ok = normal.norm(dim=-1) > 1e-12  # drop triangles that collapsed onto a grid point
    return vertices, faces[area_ok]
