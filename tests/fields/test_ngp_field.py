"""The grid field's colour head: view dependence on and off."""

import pytest
import torch

from latent_atlas.encodings.hash_grid import HashGridConfig
from latent_atlas.fields.ngp_field import NGPField, NGPFieldConfig


@pytest.mark.parametrize("view_dependent", [False, True])
def test_colour_depends_on_the_direction_only_when_view_dependent(view_dependent):
    torch.manual_seed(0)
    cfg = NGPFieldConfig(hash_grid=HashGridConfig(n_levels=2, log2_hashmap_size=10, max_resolution=32), hidden=16, view_dependent=view_dependent)
    field = NGPField(cfg, channels=4, box_min=-torch.ones(3), box_max=torch.ones(3))
    points = torch.rand(32, 3) * 2 - 1
    directions = torch.nn.functional.normalize(torch.randn(2, 32, 3), dim=-1)
    _, first = field.density_and_color(points, directions[0])
    _, second = field.density_and_color(points, directions[1])
    assert first.shape == (32, 4)
    assert field.color_mlp[0].in_features == cfg.geometry_features + (16 if view_dependent else 0)
    change = (first - second).abs().max()
    assert change > 1e-4 if view_dependent else change == 0
