import torch
import torch.nn.functional as F

from latent_atlas.rendering.occupancy import OccupancyGrid, corner_cells, trilinear_nonzero


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


def test_trilinear_nonzero_matches_grid_sample_of_the_mask():
    """TensoRF's alpha-mask test (trilinear value > 0), read from corner cells, against grid_sample itself."""
    torch.manual_seed(0)
    mask = (torch.rand(9, 7, 5) > 0.85).float()  # (z, y, x): sides differ, so a swapped axis fails
    points = torch.rand(20000, 3) * 2 - 1
    reference = F.grid_sample(mask[None, None], points.reshape(1, -1, 1, 1, 3), mode="bilinear", align_corners=True).reshape(-1) > 0
    fast = trilinear_nonzero(corner_cells(mask), points)
    assert torch.equal(fast, reference)
    assert 0.2 < reference.float().mean() < 0.9
