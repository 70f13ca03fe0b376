import math

import torch

from latent_atlas.encodings.spherical_harmonics import spherical_harmonics


def test_sh_closed_form_on_axes_and_orthonormality():
    z = spherical_harmonics(torch.tensor([[0.0, 0.0, 1.0]]))[0]
    c0, c1 = 0.5 / math.sqrt(math.pi), math.sqrt(3 / (4 * math.pi))
    assert abs(z[0] - c0) < 1e-6 and abs(z[2] - c1) < 1e-6
    assert abs(z[6] - 2 * math.sqrt(5 / (16 * math.pi))) < 1e-6  # Y_2^0 at the pole
    # Monte Carlo orthonormality over the sphere: E[Y Y^T] * 4 pi = identity
    g = torch.Generator().manual_seed(0)
    d = torch.randn(200000, 3, generator=g, dtype=torch.float64)
    d = d / d.norm(dim=-1, keepdim=True)
    y = spherical_harmonics(d)
    gram = (y.T @ y) / d.shape[0] * 4 * math.pi
    assert torch.allclose(gram, torch.eye(16, dtype=torch.float64), atol=0.03)
