"""Coarse-to-fine rendering: a coarse pass without autograd changes nothing the fine pass trains."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from latent_atlas.cameras import RayBundle
from latent_atlas.fields.triplane_field import TriPlaneField, TriPlaneFieldConfig
from latent_atlas.rendering.field_rendering import render_coarse_to_fine


def test_coarse_pass_without_autograd_gives_the_same_fine_render_and_gradients():
    """coarse_gradients=False: the same fine colour and parameter gradients, and nothing of the coarse pass kept."""
    torch.manual_seed(0)
    field = TriPlaneField(TriPlaneFieldConfig(plane_channels=4, plane_resolution=8, hidden=8, init_std=0.5), 3)
    origins = torch.tensor([0.0, 0.0, -2.0]).expand(64, 3)
    directions = F.normalize(torch.randn(64, 3) * 0.2 + torch.tensor([0.0, 0.0, 1.0]), dim=-1)
    rays = RayBundle(origins, directions, torch.full((64, 1), 1.0), torch.full((64, 1), 3.0))
    results = []
    for coarse_gradients in (True, False):
        field.zero_grad()
        torch.manual_seed(1)  # the same perturbed samples in both
        out = render_coarse_to_fine(field, field, rays, torch.ones(64, 3), 8, 8, True, coarse_gradients=coarse_gradients)
        out["color"].square().mean().backward()
        results.append((out["color"], out["color_coarse"], [p.grad.clone() for p in field.parameters()]))
    (color, coarse, grads), (color_ng, coarse_ng, grads_ng) = results
    torch.testing.assert_close(color, color_ng)
    torch.testing.assert_close(coarse, coarse_ng)
    assert coarse.requires_grad and not coarse_ng.requires_grad
    for a, b in zip(grads, grads_ng):
        torch.testing.assert_close(a, b)
    assert any(float(g.abs().max()) > 0 for g in grads_ng)
