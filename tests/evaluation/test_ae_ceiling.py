"""The autoencoder's ceiling: reconstruction PSNR by hand, and views composited on white."""

import math

import torch

from latent_atlas.data.loading import load_scene
from latent_atlas.evaluation.ae_ceiling import reconstruction_psnr, views_on_white


class _OffsetCodec:
    """decode(encode(x)) = x - 0.1 in [-1, 1], so 0.05 off in [0, 1] everywhere."""

    def encode(self, x):
        return (x,)

    def decode(self, z):
        return z - 0.1


def test_reconstruction_psnr_by_hand():
    images = torch.rand(10, 3, 8, 8) - 0.5  # inside [-1, 1] after the offset: nothing clamped
    assert math.isclose(reconstruction_psnr(_OffsetCodec(), images), 10 * math.log10(1 / 0.05**2), abs_tol=1e-3)


def test_views_on_white(tiny_scene):
    rgba = load_scene(tiny_scene).splits["test"].rgba(slice(0, 2))
    images = views_on_white([tiny_scene], 2)
    assert images.shape == (2, 3, *rgba.shape[1:3])
    expected = rgba[..., :3] * rgba[..., 3:] + (1 - rgba[..., 3:])  # straight alpha on white
    assert torch.allclose((images.permute(0, 2, 3, 1) + 1) / 2, expected, atol=1e-6)
