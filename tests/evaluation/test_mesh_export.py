"""Marching tetrahedra, PLY files, Chamfer distance and `latlas export mesh`."""

import math

import pytest
import torch

from latent_atlas.cli.main import main
from latent_atlas.evaluation.marching_tetrahedra import marching_tetrahedra
from latent_atlas.evaluation.mesh_export import chamfer_to_sdf, model_grid
from latent_atlas.evaluation.ply import read_ply, write_ply
from latent_atlas.methods.registry import method_config
from latent_atlas.tasks.scene import SceneTask
from tests.tasks.helpers import tiny_config

BOX = (torch.full((3,), -1.0), torch.full((3,), 1.0))


def _grid(n: int = 48) -> torch.Tensor:
    axis = torch.linspace(-1, 1, n)
    return torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1)


def _sphere_mesh(radius=0.6, n=48):
    return marching_tetrahedra(_grid(n).norm(dim=-1) - radius, *BOX)


def test_sphere_mesh_is_closed_outward_and_has_the_sphere_volume():
    vertices, faces = _sphere_mesh()
    assert (vertices.norm(dim=-1) - 0.6).abs().max() < 0.01
    directed = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    undirected_counts = torch.unique(directed.sort(dim=1).values, dim=0, return_counts=True)[1]
    assert (undirected_counts == 2).all()  # watertight: every edge has two triangles
    assert torch.unique(directed, dim=0).shape[0] == directed.shape[0]  # consistent orientation
    tri = vertices[faces]
    volume = (tri[:, 0] * torch.linalg.cross(tri[:, 1], tri[:, 2])).sum() / 6  # positive: normals point out
    assert volume.item() == pytest.approx(4 / 3 * math.pi * 0.6**3, rel=0.01)


def test_a_grid_without_the_level_gives_no_mesh():
    vertices, faces = marching_tetrahedra(torch.ones(8, 8, 8), *BOX)
    assert vertices.shape == (0, 3) and faces.shape == (0, 3)


def test_ply_round_trip(tmp_path):
    vertices, faces = _sphere_mesh(n=16)
    path = write_ply(tmp_path / "m.ply", vertices, faces, colors=torch.rand(len(vertices), 3))
    v, f = read_ply(path)
    torch.testing.assert_close(v, vertices)
    assert torch.equal(f, faces)
    assert path.read_bytes().startswith(b"ply\nformat binary_little_endian 1.0\n")


def test_chamfer_distance_of_known_offsets():
    vertices, faces = _sphere_mesh(0.6, 64)

    def sdf(p):
        return p.norm(dim=-1) - 0.6

    assert chamfer_to_sdf(vertices, faces, sdf, *BOX, n=3000)["chamfer"] < 0.01
    bigger = chamfer_to_sdf(vertices * (0.7 / 0.6), faces, sdf, *BOX, n=3000)
    assert bigger["accuracy"] == pytest.approx(0.1, abs=0.01) and bigger["completeness"] == pytest.approx(0.1, abs=0.01)


def test_export_mesh_of_a_density_field_and_errors(tiny_scene, tmp_path, capsys):
    task = SceneTask(tiny_config(tiny_scene, tmp_path, steps=2, method="tiny-nerf"))
    run = task.train()
    densities, kind = model_grid(task.model, task.box_min, task.box_max, 24)
    assert kind == "density"
    level = densities.quantile(0.9).item()  # a level the field crosses
    assert main(["export", "mesh", "--run", str(run), "--resolution", "24", "--level", str(level)]) == 0
    vertices, faces = read_ply(run / "export" / "mesh.ply")
    assert len(faces) > 0 and vertices.abs().max() <= 1.0 + 1e-5  # inside the scene box
    assert main(["export", "mesh", "--run", str(run), "--level", "1e9"]) == 2
    assert "no surface" in capsys.readouterr().err
    tri = SceneTask(tiny_config(tiny_scene, tmp_path / "t", steps=1, method="triplane", checkpoint_every=1)).train()
    assert main(["export", "mesh", "--run", str(tri)]) == 2
    assert "has no geometry" in capsys.readouterr().err
    assert method_config("volsdf").model.field.init_radius > 0
