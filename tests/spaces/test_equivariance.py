"""Shift equivariance: bilinear resampling by hand, and the two errors on codecs whose answer is known."""

from __future__ import annotations

import torch

from latent_atlas.spaces.autoencoder_kl import AutoencoderKL, init_patch_paths_with_pca
from latent_atlas.spaces.equivariance import fractional_shift, shift_equivariance
from latent_atlas.spaces.presets import preset_config


def test_fractional_shift_resamples_bilinearly():
    values = torch.randn(2, 3, 5, 6)
    torch.testing.assert_close(fractional_shift(values, 0.0, 0.0), values[..., :-1, :-1])
    torch.testing.assert_close(fractional_shift(values, 1.0, 1.0), values[..., 1:, 1:])
    # a plane a + b row + c column is reproduced exactly at (row + dy, column + dx)
    rows, cols = torch.meshgrid(torch.arange(5.0), torch.arange(6.0), indexing="ij")
    plane = (0.5 + 2.0 * rows - 3.0 * cols).expand(1, 1, 5, 6)
    expected = 0.5 + 2.0 * (rows[:-1, :-1] + 0.25) - 3.0 * (cols[:-1, :-1] + 0.625)
    torch.testing.assert_close(fractional_shift(plane, 0.25, 0.625)[0, 0], expected)
    # hand value at one pixel
    v = values[0, 0]
    hand = 0.7 * 0.6 * v[1, 2] + 0.7 * 0.4 * v[1, 3] + 0.3 * 0.6 * v[2, 2] + 0.3 * 0.4 * v[2, 3]
    torch.testing.assert_close(fractional_shift(values, 0.3, 0.4)[0, 0, 1, 2], hand)


def _pca_codec(images: torch.Tensor) -> AutoencoderKL:
    """A latlas-f8c16 that is exactly the PCA codec of 8x8 patches (its convolutional paths are zero at the start)."""
    torch.manual_seed(0)
    model = AutoencoderKL(preset_config("latlas-f8c16")).eval()
    init_patch_paths_with_pca(model, images)
    return model


@torch.no_grad()
def test_a_block_codec_is_equivariant_to_whole_blocks_only():
    """The PCA codec of 8x8 blocks moves with whole-block shifts (encoder error 0), not with half blocks."""
    g = torch.Generator().manual_seed(1)
    coarse = torch.rand(4, 3, 6, 6, generator=g) * 2 - 1
    smooth = torch.nn.functional.interpolate(coarse, size=(40, 40), mode="bilinear", align_corners=False)
    images = (smooth + 0.3 * torch.rand(4, 3, 40, 40, generator=g) - 0.15).clamp(-1, 1)
    model = _pca_codec(images)
    whole = shift_equivariance(model, images, 32, 8, 8)
    assert whole.encoder.item() < 1e-6
    half = shift_equivariance(model, images, 32, 4, 4)
    assert half.encoder.item() > 0.05
    # no shift: the decoder term is the reconstruction error of the crop (without its last block row and column)
    none = shift_equivariance(model, images, 32, 0, 0)
    crop = images[..., :32, :32]
    recon = model.decode(model.encode(crop)[0])
    torch.testing.assert_close(none.decoder, torch.mean((recon[..., :24, :24] - crop[..., :24, :24]) ** 2))
    assert none.encoder.item() < 1e-10


def test_view_consistency_by_hand():
    """Identical latents at the identity grid score 0; a constant offset d on one of C channels scores d^2 / var / C."""
    from latent_atlas.spaces.equivariance import view_consistency

    latents = torch.randn(2, 4, 6, 6, generator=torch.Generator().manual_seed(0))
    ys, xs = torch.meshgrid((torch.arange(6.0) + 0.5) / 3 - 1, (torch.arange(6.0) + 0.5) / 3 - 1, indexing="ij")
    grid = torch.stack([xs, ys], dim=-1).expand(2, 6, 6, 2)
    mask = torch.zeros(2, 6, 6, dtype=torch.bool)
    mask[:, 1:5, 2:6] = True
    assert view_consistency(latents, latents, grid, mask).item() < 1e-10
    moved = latents.clone()
    moved[:, 2] += 0.5
    expected = 0.25 / moved[:, 2].var().item() / 4
    assert abs(view_consistency(moved, latents, grid, mask).item() - expected) < 1e-6
    moved[:, 2, 0, 0] += 100.0  # outside the mask: ignored
    assert abs(view_consistency(moved, latents, grid, mask).item() - 0.25 / moved[:, 2].var().item() / 4) < 1e-6
