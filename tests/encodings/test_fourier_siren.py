"""Gaussian Fourier features and SIREN layers: shapes, scale, initialisation bounds, and tiny-nerf learning
with each as its position encoder."""

from __future__ import annotations

import math

import pytest
import torch

from latent_atlas.encodings.frequency import GaussianFourierEncoding
from latent_atlas.fields.mlp import SirenMLP
from latent_atlas.tasks.scene import SceneTask
from tests.tasks.helpers import tiny_config


def test_fourier_features_shape_scale_and_values():
    torch.manual_seed(0)
    encoding = GaussianFourierEncoding(3, 4096, scale=10.0)
    assert encoding.out_dim == 8192 and "projection" in encoding.state_dict()  # saved with the model
    assert encoding.projection.std().item() == pytest.approx(10.0, rel=0.03)
    x = torch.rand(5, 3)
    out = encoding(x)
    assert out.shape == (5, 8192)
    angles = 2 * math.pi * x @ encoding.projection.T
    torch.testing.assert_close(out[:, :4096], torch.sin(angles))
    torch.testing.assert_close(out[:, 4096:], torch.cos(angles))
    torch.testing.assert_close(out[:, :4096] ** 2 + out[:, 4096:] ** 2, torch.ones(5, 4096))


def test_siren_initialisation_bounds():
    torch.manual_seed(0)
    siren = SirenMLP(3, 256, 4, omega=30.0)
    first, later = siren.hidden[0].weight, siren.hidden[1].weight
    assert first.abs().max() <= 1 / 3 and first.abs().max() > 0.9 / 3  # U(-1/in, 1/in), in = 3
    bound = math.sqrt(6 / 256) / 30
    assert later.abs().max() <= bound and later.abs().max() > 0.95 * bound
    assert later.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.03)  # the uniform's std
    h = siren(torch.rand(10000, 3) * 2 - 1)
    assert h.abs().max() <= 1.0 and 0.5 < h.std().item() < 0.8  # SIREN keeps activations arcsine-distributed (std 0.71)


@pytest.mark.parametrize("encoding", ["fourier", "siren", "hash"])
def test_tiny_nerf_learns_with_the_encoding(tiny_scene, tmp_path, encoding):
    rays = 512 if encoding == "fourier" else 256  # fourier needs the larger batch to pass the bound in 200 steps
    cfg = tiny_config(tiny_scene, tmp_path, steps=200, rays_per_batch=rays, background="white")
    cfg.method.model.field.position_encoding = encoding
    task = SceneTask(cfg)
    task.train()
    assert task.evaluate()["eval_psnr"] > 17.0


def test_box_hash_encoding_covers_the_scene_box():
    from latent_atlas.encodings.hash_grid import HashGridConfig
    from latent_atlas.fields.nerf_field import BoxHashEncoding

    encoding = BoxHashEncoding(HashGridConfig(n_levels=4, log2_hashmap_size=12, max_resolution=64, init_scale=1.0))
    x = torch.rand(2, 5, 3) * 2 - 1
    out = encoding(x)
    assert out.shape == (2, 5, 8)
    torch.testing.assert_close(out.reshape(-1, 8), encoding.grid((x.reshape(-1, 3) + 1) / 2))  # [-1, 1] -> [0, 1]
