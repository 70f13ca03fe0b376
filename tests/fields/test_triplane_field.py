"""The tri-plane decoder head against its formula: one output layer, density softplus(sigma - 1), colour sigmoid."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from latent_atlas.fields.triplane_field import decode_triplane, make_decoder


def _by_formula(features: torch.Tensor, decoder: torch.nn.Sequential) -> tuple[torch.Tensor, torch.Tensor]:
    out = decoder(features)  # [..., 1 + C]: the whole last layer at once, as the docstring states it
    return F.softplus(out[..., 0] - 1.0), torch.sigmoid(out[..., 1:]) * 1.002 - 0.001


def test_split_head_gives_the_formulas_values_and_gradients():
    torch.manual_seed(0)
    decoder = make_decoder(16, 32, 16)
    features = torch.randn(2, 50, 16, requires_grad=True)
    grad_density, grad_color = torch.randn(2, 50), torch.randn(2, 50, 16)
    results = []
    for fn in (decode_triplane, _by_formula):
        decoder.zero_grad()
        features.grad = None
        density, color = fn(features, decoder)
        torch.autograd.backward([density, color], [grad_density, grad_color])
        results.append((density, color, features.grad.clone(), [p.grad.clone() for p in decoder.parameters()]))
    (d, c, gf, gp), (d_ref, c_ref, gf_ref, gp_ref) = results
    assert d.shape == (2, 50) and c.shape == (2, 50, 16)
    torch.testing.assert_close(d, d_ref, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(c, c_ref, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(gf, gf_ref, atol=1e-5, rtol=1e-5)
    for a, b in zip(gp, gp_ref):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert float(c.detach().min()) > -0.001 and float(c.detach().max()) < 1.001  # the colour's range
