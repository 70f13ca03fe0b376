"""Normal renders: -grad(density) composited along the ray equals an analytic sphere's surface normal."""

import torch

from latent_atlas.cameras import RayBundle
from latent_atlas.rendering.field_rendering import render_field
from latent_atlas.rendering.samplers import stratified_edges


def test_rendered_normals_of_a_soft_sphere():
    def sphere(positions, directions):
        density = 200.0 * torch.sigmoid((0.5 - positions.norm(dim=-1)) * 40.0)
        return density, torch.ones(*positions.shape[:-1], 3)

    origins = torch.tensor([[0.0, 0.0, 3.0], [0.2, 0.1, 3.0], [3.0, -0.3, 0.0]])
    targets = torch.tensor([[0.0, 0.0, 0.0], [0.2, 0.1, 0.0], [0.0, -0.3, 0.0]])
    directions = torch.nn.functional.normalize(targets - origins, dim=-1)
    rays = RayBundle(origins, directions, torch.full((3, 1), 1.0), torch.full((3, 1), 5.0))
    edges = stratified_edges(rays.near, rays.far, 512, perturb=False)
    with torch.no_grad():  # normals need autograd; the renderer turns it on itself
        out = render_field(sphere, rays, edges, torch.ones(3, 3), normals=True)
    hit = origins + directions * out["depth"]  # where the ray meets the sphere
    expected = torch.nn.functional.normalize(hit, dim=-1)
    normals = torch.nn.functional.normalize(out["normals"], dim=-1)
    assert (normals * expected).sum(-1).min() > 0.99
    assert "normals" not in render_field(sphere, rays, edges, torch.ones(3, 3))
