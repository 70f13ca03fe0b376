import torch

from latent_atlas.rendering.occupancy import OccupancyGrid


def _blob(points: torch.Tensor) -> torch.Tensor:
    """A smooth density: a Gaussian blob of peak 50 around (0.3, -0.2, 0.1)."""
    return 50.0 * torch.exp(-((points - torch.tensor([0.3, -0.2, 0.1])) ** 2).sum(-1) / 0.02)


def test_occupancy_never_skips_dense_samples():
    torch.manual_seed(0)
    grid = OccupancyGrid(-torch.ones(3), torch.ones(3), resolution=32, threshold=0.01)
    step = 2 * 3**0.5 / 512
    for _ in range(4):
        grid.update(_blob, step, all_cells=True)
    points = torch.rand(200000, 3) * 2 - 1
    dense = _blob(points) * step > grid.threshold
    assert dense.sum() > 100
    assert grid.query(points[dense]).all()
    # and it does skip empty space
    assert grid.occupied.float().mean() < 0.1


def test_occupancy_decays_when_density_vanishes():
    grid = OccupancyGrid(-torch.ones(3), torch.ones(3), resolution=8)
    grid.update(_blob, 0.01, all_cells=True)
    before = grid.occupied.sum()
    for _ in range(100):
        grid.update(lambda p: torch.zeros(p.shape[0]), 0.01, all_cells=True)
    assert grid.occupied.sum() <= before
    assert grid.opacity.max() < 1e-2
