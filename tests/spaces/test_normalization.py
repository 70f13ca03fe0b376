"""Latent normalisation tanh(0.02 z) -> [0, 1] and its inverse."""

import torch

from latent_atlas.spaces.normalization import denormalize_latent, normalize_latent


def test_normalisation_is_inverted_to_1e4():
    z = torch.linspace(-60.0, 60.0, 2001, dtype=torch.float64)
    x = normalize_latent(z)
    assert x.min() > 0 and x.max() < 1
    torch.testing.assert_close(denormalize_latent(x), z, atol=1e-4, rtol=0)
    values = torch.rand(10000)
    torch.testing.assert_close(normalize_latent(denormalize_latent(values)), values, atol=1e-4, rtol=0)


def test_reference_values_and_clamping():
    assert normalize_latent(torch.tensor(0.0)).item() == 0.5
    torch.testing.assert_close(normalize_latent(torch.tensor(50.0)), (torch.tanh(torch.tensor(1.0)) + 1) / 2)
    extreme = denormalize_latent(torch.tensor([0.0, 1.0]))
    assert torch.isfinite(extreme).all() and extreme[0] < -200 and extreme[1] > 200
