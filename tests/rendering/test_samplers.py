import torch

from latent_atlas.rendering.samplers import merge_edges, pdf_samples, stratified_edges


def test_stratified_edges_cover_range_and_are_sorted():
    near, far = torch.tensor([[2.0], [1.0]]), torch.tensor([[6.0], [1.5]])
    for perturb in (False, True):
        edges = stratified_edges(near, far, 16, perturb, torch.Generator().manual_seed(0))
        assert edges.shape == (2, 17)
        assert torch.all(edges[:, 1:] >= edges[:, :-1])
        assert torch.allclose(edges[:, 0:1], near) and torch.allclose(edges[:, -1:], far)


def test_pdf_samples_follow_weights():
    edges = torch.linspace(0.0, 1.0, 11).expand(1, 11)
    weights = torch.zeros(1, 10)
    weights[0, 7] = 1.0  # all mass in [0.7, 0.8]
    samples = pdf_samples(edges, weights, 1000, perturb=True, generator=torch.Generator().manual_seed(0))
    inside = ((samples >= 0.7) & (samples <= 0.8)).float().mean()
    assert inside > 0.98
    uniform = pdf_samples(edges, torch.ones(1, 10), 10000, perturb=True, generator=torch.Generator().manual_seed(1))
    assert abs(uniform.mean().item() - 0.5) < 0.02
    merged = merge_edges(edges, samples)
    assert merged.shape == (1, 1011) and torch.all(merged[:, 1:] >= merged[:, :-1])
