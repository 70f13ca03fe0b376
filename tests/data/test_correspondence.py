"""View pairs of synthesized scenes: projection by hand, and traced correspondences that match the images."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from latent_atlas.data.synth.correspondence import ViewPairs, interior, nearest_views, project, scene_view_pairs
from latent_atlas.data.synth.writer import hemisphere_cameras


def test_project_inverts_pixel_rays():
    """A point on pixel (x, y)'s ray projects to that pixel's centre (x + 0.5, y + 0.5), at depth t along the axis."""
    cameras = hemisphere_cameras(3, 16, torch.Generator().manual_seed(0))
    px, py = torch.tensor([0, 7, 15]), torch.tensor([3, 8, 15])
    origins, dirs = cameras.pixel_directions(torch.tensor([1, 1, 1]), px, py)
    points = origins + dirs * 2.5
    xy, depth = project(cameras, 1, points)
    torch.testing.assert_close(xy, torch.stack([px + 0.5, py + 0.5], dim=-1).float())
    axis = -cameras.camera_to_worlds[1, :3, 2]  # the camera looks along its -z
    torch.testing.assert_close(depth, 2.5 * dirs @ axis)


def test_interior_erodes_by_one_pixel_and_nearest_views_skip_themselves():
    hit = torch.zeros(1, 5, 5, dtype=torch.bool)
    hit[0, 1:5, 1:5] = True
    expected = torch.zeros(1, 5, 5, dtype=torch.bool)
    expected[0, 2:4, 2:4] = True  # the image border counts as background
    assert torch.equal(interior(hit), expected)
    cameras = hemisphere_cameras(6, 8, torch.Generator().manual_seed(1))
    near = nearest_views(cameras, 2)
    assert near.shape == (6, 2) and not (near == torch.arange(6)[:, None]).any()


def test_view_pairs_find_the_same_surface_points(tiny_scene):
    """Box-downsampled views resampled through the pairs' grids agree with the target views where the mask says so,
    far better than with the pairs' sources shuffled."""
    pairs = scene_view_pairs(tiny_scene, 2)
    assert len(pairs) == 40 and pairs.grid.shape == (40, 16, 16, 2)
    assert 0.03 < pairs.mask.float().mean() < 0.5
    rgba = pairs.images.float() / 255.0
    small = F.avg_pool2d((rgba[..., :3] * rgba[..., 3:] + 1 - rgba[..., 3:]).permute(0, 3, 1, 2), 2)
    target, weight = small[pairs.target], pairs.mask[:, None].float()

    def error(sources: torch.Tensor) -> float:
        resampled = F.grid_sample(small[sources], pairs.grid, align_corners=False)
        return ((((target - resampled) ** 2) * weight).sum() / (3 * weight.sum()) / target.var()).sqrt().item()

    matched, shuffled = error(pairs.source), error(pairs.source.roll(7))
    assert matched < 0.35 and shuffled > 2 * matched, (matched, shuffled)
    both = ViewPairs.cat([pairs, pairs])
    assert len(both) == 80 and int(both.target[40]) == int(pairs.target[0]) + 40


def test_scenes_that_cannot_be_paired_are_refused(micro_scene, tmp_path):
    import pytest

    from latent_atlas.errors import DataError

    with pytest.raises(DataError, match="no primitives.json"):
        scene_view_pairs(tmp_path, 4)
    with pytest.raises(DataError, match="16x16 pixels are not divisible by the autoencoder's factor 3"):
        scene_view_pairs(micro_scene, 3)
