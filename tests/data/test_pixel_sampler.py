"""Pixel sampling: crop training (NeRF's precrop) and the error map of --sampler importance."""

import torch

from latent_atlas.cameras import Cameras
from latent_atlas.data.pixel_sampler import ERROR_DECAY, UNIFORM_SHARE, PixelSampler
from latent_atlas.data.scene import SceneSplit


def _split(h=20, w=10) -> SceneSplit:
    eye = torch.eye(4)[None].expand(3, 4, 4)
    ones = torch.ones(3)
    cameras = Cameras(eye, ones, ones, ones, ones, torch.full((3,), w), torch.full((3,), h))
    return SceneSplit(torch.zeros(3, h, w, 4, dtype=torch.uint8), cameras, [])


def test_rays_and_patches_stay_in_the_central_crop():
    for mode in ("rays", "patches"):
        sampler = PixelSampler(_split(), seed=0, mode=mode, patch_size=4)
        batch = sampler.sample(4000, crop=0.5)
        assert batch.pixel_y.min() >= 5 and batch.pixel_y.max() <= 14, mode  # rows 5..14 of 20
        assert batch.pixel_x.min() >= 2 and batch.pixel_x.max() <= 6, mode  # columns 2..6 of 10
        full = sampler.sample(4000)
        assert full.pixel_y.min() == 0 and full.pixel_y.max() == 19, mode


def test_importance_rays_follow_the_error_map():
    """One tile holding all the error gets the non-uniform share of the rays plus its uniform share."""
    h, w = 20, 10  # 3 x 2 tiles of 8 px per image; the last row and column of tiles are cut short
    sampler = PixelSampler(_split(h, w), seed=0, mode="importance")
    assert sampler.error_map.shape == (3 * 3 * 2,)
    sampler.error_map.fill_(1e-8)
    sampler.error_map[1 * 6 + 2 * 2 + 1] = 1.0  # image 1, tile row 2 (y 16..19), tile column 1 (x 8..9)
    batch = sampler.sample(20000)
    assert batch.pixel_x.max() == w - 1 and batch.pixel_y.max() == h - 1 and batch.pixel_x.min() == 0
    in_tile = (batch.camera_indices == 1) & (batch.pixel_y >= 16) & (batch.pixel_x >= 8)
    expected = (1 - UNIFORM_SHARE) + UNIFORM_SHARE * (4 * 2) / (3 * h * w)
    assert abs(in_tile.float().mean().item() - expected) < 0.015


def test_recorded_errors_update_only_their_tiles():
    sampler = PixelSampler(_split(), seed=0, mode="importance")
    batch = sampler.sample(4)
    batch.camera_indices, batch.pixel_x, batch.pixel_y = torch.tensor([0, 0, 2, 2]), torch.tensor([0, 7, 9, 9]), torch.tensor([0, 7, 19, 16])
    sampler.record_errors(batch, torch.tensor([0.2, 0.4, 3.0, 1.0]))
    first, last = 0, 2 * 6 + 2 * 2 + 1
    assert torch.isclose(sampler.error_map[first], torch.tensor((1 - ERROR_DECAY) + ERROR_DECAY * 0.3))
    assert torch.isclose(sampler.error_map[last], torch.tensor((1 - ERROR_DECAY) + ERROR_DECAY * 2.0))
    untouched = torch.ones(18, dtype=torch.bool)
    untouched[[first, last]] = False
    assert torch.all(sampler.error_map[untouched] == 1.0)


def test_views_limit_every_mode_to_those_images():
    """views=[0, 2]: rays, patches, whole images and the error map's draws never come from image 1."""
    for mode in ("rays", "patches", "images", "importance"):
        sampler = PixelSampler(_split(), seed=0, mode=mode, patch_size=4, views=torch.tensor([0, 2]))
        drawn = torch.cat([sampler.sample(400).camera_indices for _ in range(20)]).unique().tolist()
        assert drawn == [0, 2], mode
    assert torch.all(PixelSampler(_split(), seed=0, mode="importance", views=torch.tensor([0, 2])).error_map[6:12] == 0)
