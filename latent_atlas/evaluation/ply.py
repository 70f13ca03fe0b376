"""Triangle meshes as binary PLY files (what MeshLab, Blender and Open3D read)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from latent_atlas.errors import DataError


def write_ply(path: Path, vertices: Tensor, faces: Tensor, colors: Tensor | None = None) -> Path:
    """Writes vertices [V, 3], triangles [F, 3] and optional vertex colours [V, 3] in [0, 1] as binary PLY
    (written to a temporary file, then renamed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {len(vertices)}", "property float x", "property float y", "property float z"]
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if colors is not None:
        header += ["property uchar red", "property uchar green", "property uchar blue"]
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    header += [f"element face {len(faces)}", "property list uchar int vertex_indices", "end_header"]
    vertex_rows = np.zeros(len(vertices), dtype=fields)
    xyz = vertices.detach().cpu().float().numpy()
    for i, axis in enumerate("xyz"):
        vertex_rows[axis] = xyz[:, i]
    if colors is not None:
        rgb = (colors.detach().cpu().float().clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
        for i, channel in enumerate(("red", "green", "blue")):
            vertex_rows[channel] = rgb[:, i]
    face_rows = np.zeros(len(faces), dtype=[("n", "u1"), ("v", "<i4", (3,))])
    face_rows["n"] = 3
    face_rows["v"] = faces.detach().cpu().numpy().astype(np.int32)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(("\n".join(header) + "\n").encode("ascii"))
        f.write(vertex_rows.tobytes())
        f.write(face_rows.tobytes())
    tmp.replace(path)
    return path


def read_ply(path: Path) -> tuple[Tensor, Tensor]:
    """Vertices [V, 3] and triangles [F, 3] of a binary little-endian PLY written by write_ply."""
    path = Path(path)
    data = path.read_bytes()
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply") or end < 0:
        raise DataError(path, "not a PLY file")
    header = data[:end].decode("ascii").splitlines()
    counts = {line.split()[1]: int(line.split()[2]) for line in header if line.startswith("element")}
    has_color = any("red" in line for line in header)
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")] + ([("red", "u1"), ("green", "u1"), ("blue", "u1")] if has_color else [])
    offset = end + len(b"end_header\n")
    vertex_rows = np.frombuffer(data, dtype=fields, count=counts["vertex"], offset=offset)
    offset += vertex_rows.nbytes
    face_rows = np.frombuffer(data, dtype=[("n", "u1"), ("v", "<i4", (3,))], count=counts["face"], offset=offset)
    vertices = torch.from_numpy(np.stack([vertex_rows[a] for a in "xyz"], axis=-1).astype(np.float32))
    return vertices, torch.from_numpy(face_rows["v"].astype(np.int64))
