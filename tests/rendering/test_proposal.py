import torch

from latent_atlas.rendering.proposal import distortion_loss, interlevel_loss, outer_weights, pdf_edges


def test_pdf_edges_concentrate_on_mass_and_keep_ends():
    edges = torch.linspace(2.0, 6.0, 9).expand(1, 9)
    weights = torch.zeros(1, 8)
    weights[0, 3] = 1.0  # mass in [3.5, 4.0]
    new = pdf_edges(edges, weights, 32, perturb=True)
    assert new[0, 0] == 2.0 and new[0, -1] == 6.0 and torch.all(new[:, 1:] >= new[:, :-1])
    inner = new[0, 1:-1]
    assert ((inner >= 3.5) & (inner <= 4.0)).float().mean() > 0.9


def test_outer_weights_hand_computed():
    prop_edges = torch.tensor([[0.0, 1.0, 2.0, 3.0]])
    prop_w = torch.tensor([[0.2, 0.5, 0.3]])
    edges = torch.tensor([[0.5, 1.5, 2.5]])
    # [0.5, 1.5] overlaps proposal bins 0 and 1 -> 0.7; [1.5, 2.5] overlaps bins 1 and 2 -> 0.8
    assert torch.allclose(outer_weights(edges, prop_edges, prop_w), torch.tensor([[0.7, 0.8]]))
    assert interlevel_loss(edges, torch.tensor([[0.6, 0.4]]), [(prop_edges, prop_w)]) == 0
    assert interlevel_loss(edges, torch.tensor([[0.9, 0.1]]), [(prop_edges, prop_w)]) > 0


def test_distortion_loss_matches_quadratic_form():
    torch.manual_seed(0)
    edges = torch.sort(torch.rand(3, 9), dim=-1).values
    weights = torch.rand(3, 8) / 8
    s = (edges - edges[:, :1]) / (edges[:, -1:] - edges[:, :1])
    mids, widths = 0.5 * (s[:, 1:] + s[:, :-1]), s[:, 1:] - s[:, :-1]
    brute = (weights[:, :, None] * weights[:, None, :] * (mids[:, :, None] - mids[:, None, :]).abs()).sum((1, 2))
    brute = (brute + (weights**2 * widths).sum(-1) / 3).mean()
    assert torch.allclose(distortion_loss(edges, weights), brute, atol=1e-6)
