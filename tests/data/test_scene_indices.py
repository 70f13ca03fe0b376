"""spread_indices: evenly spaced view and scene picks."""

from latent_atlas.data.scene import spread_indices


def test_spread_indices_hand_values():
    assert spread_indices(10, 4) == [0, 3, 6, 9]
    assert spread_indices(60, 4) == [0, 20, 39, 59]  # 19.67 and 39.33 rounded
    assert spread_indices(3, 4) == [0, 1, 2]  # fewer than asked: all
    assert spread_indices(1, 4) == [0]
