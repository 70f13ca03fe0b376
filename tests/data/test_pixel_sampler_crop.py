"""Crop training: rays and patches from the central crop of each image (NeRF's precrop)."""

import torch

from latent_atlas.cameras import Cameras
from latent_atlas.data.pixel_sampler import PixelSampler
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
