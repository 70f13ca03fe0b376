import math

import torch

from latent_atlas.rendering.samplers import sample_points, stratified_edges
from latent_atlas.rendering.volume import accumulation, add_background, composite, expected_depth, render_weights


def test_constant_density_slab_matches_closed_form():
    """A slab of density sigma between t0 and t1 along the ray; empty elsewhere in [near, far]."""
    sigma, t0, t1, near, far = 1.7, 2.5, 3.5, 2.0, 4.0
    edges = stratified_edges(torch.tensor([[near]]), torch.tensor([[far]]), 4000, perturb=False)
    _, t_mid = sample_points(torch.zeros(1, 3), torch.tensor([[0.0, 0.0, 1.0]]), edges)
    density = torch.where((t_mid > t0) & (t_mid < t1), torch.tensor(sigma), torch.tensor(0.0))
    weights = render_weights(density, edges[:, 1:] - edges[:, :-1])
    acc = accumulation(weights)
    closed_acc = 1.0 - math.exp(-sigma * (t1 - t0))
    assert abs(acc.item() - closed_acc) < 1e-3
    # expected depth with the remaining transmittance at `far`:
    # int_t0^t1 t sigma e^{-sigma (t - t0)} dt + e^{-sigma (t1 - t0)} far
    e = math.exp(-sigma * (t1 - t0))
    first = (t0 + 1 / sigma) - (t1 + 1 / sigma) * e
    closed_depth = first + e * far
    depth = expected_depth(weights, t_mid, torch.tensor([[far]]))
    assert abs(depth.item() - closed_depth) < 2e-3
    # colour of any channel count composites linearly, then the background fills the rest
    values = torch.tensor([0.2, 0.4, 0.6, 0.8, 1.0]).expand(1, t_mid.shape[1], 5)
    color = add_background(composite(weights, values), acc, torch.full((5,), 0.5))
    expected = closed_acc * values[0, 0] + (1 - closed_acc) * 0.5
    assert torch.allclose(color[0], expected, atol=1e-3)


def test_weights_sum_to_one_for_opaque_ray():
    density = torch.full((3, 64), 1e4)
    weights = render_weights(density, torch.full((3, 64), 0.1))
    assert torch.allclose(weights.sum(-1), torch.ones(3))
    assert torch.allclose(weights[:, 0], torch.ones(3))
