"""mip-NeRF's integrated positional encoding and frustum Gaussians against Monte Carlo, and tiny-nerf with
--model.mip cone learning."""

from __future__ import annotations

import pytest
import torch

from latent_atlas.encodings.integrated import frustum_gaussians, integrated_positional_encoding
from latent_atlas.tasks.scene import SceneTask
from tests.tasks.helpers import tiny_config


def test_ipe_is_the_expected_encoding_of_the_gaussian():
    generator = torch.Generator().manual_seed(0)
    means = torch.tensor([[0.3, -0.2, 0.7], [0.0, 0.5, -0.4]], dtype=torch.float64)
    variances = torch.tensor([[0.01, 0.002, 0.05], [0.0004, 0.02, 0.001]], dtype=torch.float64)
    samples = means + variances.sqrt() * torch.randn(400_000, 2, 3, generator=generator, dtype=torch.float64)
    freqs = 4
    scales = 2.0 ** torch.arange(freqs, dtype=torch.float64)
    scaled = (samples[..., None, :] * scales[:, None]).flatten(-2)
    monte_carlo = torch.cat([torch.sin(scaled), torch.cos(scaled)], dim=-1).mean(0)
    torch.testing.assert_close(integrated_positional_encoding(means, variances, freqs), monte_carlo, atol=5e-3, rtol=0)


def _cone_samples(t0: float, t1: float, radius: float, n: int, generator) -> torch.Tensor:
    """Points uniform in the volume of a cone frustum along +z (apex at the origin, radius * t at distance t)."""
    u, v, w = torch.rand(3, n, generator=generator, dtype=torch.float64)
    t = (t0**3 + u * (t1**3 - t0**3)) ** (1 / 3)  # density proportional to the cross-section, t^2
    rho = radius * t * v.sqrt()
    angle = 2 * torch.pi * w
    return torch.stack([rho * torch.cos(angle), rho * torch.sin(angle), t], dim=-1)


@pytest.mark.parametrize(("t0", "t1"), [(2.0, 2.5), (0.5, 3.0)])
def test_cone_gaussian_matches_the_frustum_moments(t0, t1):
    generator = torch.Generator().manual_seed(1)
    radius = 0.05
    points = _cone_samples(t0, t1, radius, 1_000_000, generator)
    origins, directions = torch.zeros(1, 3, dtype=torch.float64), torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)
    edges = torch.tensor([[t0, t1]], dtype=torch.float64)
    means, variances = frustum_gaussians(origins, directions, edges, torch.tensor([[radius]], dtype=torch.float64), "cone")
    torch.testing.assert_close(means[0, 0], points.mean(0), atol=2e-3, rtol=0)
    torch.testing.assert_close(variances[0, 0], points.var(0), atol=0, rtol=0.02)


def test_cylinder_gaussian():
    edges = torch.tensor([[1.0, 1.6]])
    means, variances = frustum_gaussians(torch.zeros(1, 3), torch.tensor([[1.0, 0.0, 0.0]]), edges, torch.tensor([[0.1]]), "cylinder")
    torch.testing.assert_close(means[0, 0], torch.tensor([1.3, 0.0, 0.0]))
    torch.testing.assert_close(variances[0, 0], torch.tensor([0.6**2 / 12, 0.01 / 4, 0.01 / 4]))


def test_tiny_nerf_learns_with_mip_cones(tiny_scene, tmp_path):
    cfg = tiny_config(tiny_scene, tmp_path, steps=200, rays_per_batch=512, background="white")
    cfg.method.model.mip = "cone"
    task = SceneTask(cfg)
    task.train()
    assert task.evaluate()["eval_psnr"] > 17.0
