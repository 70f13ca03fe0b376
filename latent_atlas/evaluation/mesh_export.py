"""`latlas export mesh`: a trained model's surface as a PLY mesh (marching tetrahedra over its SDF or density),
and the Chamfer distance of a mesh to an analytic surface."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from latent_atlas.errors import ConfigError
from latent_atlas.evaluation.marching_tetrahedra import marching_tetrahedra
from latent_atlas.evaluation.ply import write_ply
from latent_atlas.methods.base import Model


@dataclass
class MeshExportConfig:
    """`latlas export mesh`: extract a trained run's surface."""

    run: Path
    """Run folder of a one-scene run (its latest checkpoint)."""
    output: Path | None = None
    """PLY file to write (default: RUN/export/mesh.ply)."""
    resolution: int = 128
    """Grid points per axis over the scene box."""
    level: float | None = None
    """Iso-level: the SDF value for SDF models (default 0) or the density threshold for density fields (default 25)."""
    time: float = 0.0
    """Time in [0, 1] at which a dynamic model's geometry is taken."""
    chunk: int = 65536
    """Points evaluated at once."""
    device: str = "auto"
    """cpu, cuda or auto."""


DEFAULT_DENSITY_LEVEL = 25.0


@torch.no_grad()
def model_grid(model: Model, box_min: Tensor, box_max: Tensor, resolution: int, chunk: int = 65536, time: float | None = None) -> tuple[Tensor, str]:
    """The model's geometry values on a resolution^3 grid spanning the box: [R, R, R] and 'sdf' or 'density'."""
    device = box_min.device
    axes = [torch.linspace(float(box_min[i]), float(box_max[i]), resolution, device=device) for i in range(3)]
    points = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)
    values, kind = [], "sdf"
    for start in range(0, len(points), chunk):
        batch = points[start : start + chunk]
        if time is not None:
            batch = torch.cat([batch, torch.full_like(batch[:, :1], time)], dim=-1)
        value, kind = model.geometry(batch)
        values.append(value.float())
    return torch.cat(values).reshape(resolution, resolution, resolution).cpu(), kind


def extract_mesh(
    model: Model, box_min: Tensor, box_max: Tensor, resolution: int, level: float | None = None, time: float | None = None, chunk: int = 65536
) -> tuple[Tensor, Tensor]:
    """The model's surface: vertices [V, 3], triangles [F, 3] (inside below an SDF level / above a density level)."""
    try:
        values, kind = model_grid(model, box_min, box_max, resolution, chunk, time)
    except NotImplementedError:
        raise ConfigError(f"{type(model).__name__} has no geometry to mesh (volsdf, vanilla-nerf, tiny-nerf, nerf-ae and dnerf do)") from None
    if kind == "density":  # inside is where the density exceeds the threshold
        values, level = -values, -(DEFAULT_DENSITY_LEVEL if level is None else level)
    return marching_tetrahedra(values, box_min.cpu(), box_max.cpu(), 0.0 if level is None else level)


def sample_surface(vertices: Tensor, faces: Tensor, n: int, generator: torch.Generator | None = None) -> Tensor:
    """n points [n, 3] uniformly (by area) on the triangles of a mesh."""
    tri = vertices[faces]
    area = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]).norm(dim=-1)
    index = torch.multinomial(area, n, replacement=True, generator=generator)
    u, v = torch.rand(n, generator=generator), torch.rand(n, generator=generator)
    flip = u + v > 1
    u, v = torch.where(flip, 1 - u, u), torch.where(flip, 1 - v, v)
    t = tri[index]
    return t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])


def nearest_distances(points: Tensor, targets: Tensor, chunk: int = 512) -> Tensor:
    """Distance [n] from each of points [n, 3] to the nearest of targets [m, 3]."""
    return torch.cat([torch.cdist(points[i : i + chunk], targets).min(dim=1).values for i in range(0, len(points), chunk)])


def analytic_surface_points(sdf: Callable[[Tensor], Tensor], box_min: Tensor, box_max: Tensor, n: int, generator: torch.Generator | None = None) -> Tensor:
    """About n points [<=n, 3] on the zero set of an SDF [m, 3] -> [m]: random points near it projected along
    its (finite-difference) gradient, twice."""
    candidates = box_min + (box_max - box_min) * torch.rand(40 * n, 3, generator=generator)
    values = sdf(candidates)
    band = (box_max - box_min).max() / 32
    points = candidates[values.abs() < band][:n]
    eps = 1e-3
    for _ in range(2):
        grad = torch.stack([sdf(points + eps * e) - sdf(points - eps * e) for e in torch.eye(3)], dim=-1) / (2 * eps)
        points = points - sdf(points)[:, None] * grad / grad.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    return points


def chamfer_to_sdf(
    vertices: Tensor, faces: Tensor, sdf: Callable[[Tensor], Tensor], box_min: Tensor, box_max: Tensor, n: int = 20000, seed: int = 0
) -> dict[str, float]:
    """Chamfer distance between a mesh and the zero set of an analytic SDF: accuracy (mean |sdf| of points on the
    mesh), completeness (mean distance of points on the true surface to the mesh) and their mean ('chamfer')."""
    g = torch.Generator().manual_seed(seed)
    on_mesh = sample_surface(vertices, faces, n, g)
    accuracy = sdf(on_mesh).abs().mean().item()
    on_truth = analytic_surface_points(sdf, box_min, box_max, n, g)
    completeness = nearest_distances(on_truth, sample_surface(vertices, faces, 4 * n, g)).mean().item()
    return {"accuracy": accuracy, "completeness": completeness, "chamfer": 0.5 * (accuracy + completeness)}


def export_mesh(cfg: MeshExportConfig) -> Path:
    """Writes the run's surface mesh (PLY, vertex colours none) and returns its path."""
    from latent_atlas.evaluation.loading import load_trained_run

    if cfg.resolution < 2:
        raise ConfigError("--resolution must be >= 2")
    run = load_trained_run(cfg.run, cfg.device)
    if run.model is None:
        raise ConfigError(f"{cfg.run} is a many-scene run: mesh export takes one-scene runs")
    uses_time = getattr(run.config.method.model, "uses_time", False)
    box_min, box_max = run.scene.box_min.to(run.background_value.device), run.scene.box_max.to(run.background_value.device)
    vertices, faces = extract_mesh(run.model, box_min, box_max, cfg.resolution, cfg.level, cfg.time if uses_time else None, cfg.chunk)
    if len(faces) == 0:
        raise ConfigError(f"no surface at this level in {cfg.run} (try another --level)")
    return write_ply(cfg.output or cfg.run / "export" / "mesh.ply", vertices, faces)
