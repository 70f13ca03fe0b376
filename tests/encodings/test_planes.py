import torch

from latent_atlas.encodings.planes import kplane_features, triplane_features
from latent_atlas.encodings.tensor_vm import upsample_vm, vm_features


def _ramp_planes(c=2, r=3):
    """planes[b, p, ch, row, col] = 100 p + 10 row + col + ch (+ 1000 b)."""
    b = 2
    rows = torch.arange(r).view(1, 1, 1, r, 1) * 10.0
    cols = torch.arange(r).view(1, 1, 1, 1, r) * 1.0
    planes = torch.arange(3).view(1, 3, 1, 1, 1) * 100.0 + rows + cols + torch.arange(c).view(1, 1, c, 1, 1)
    return (planes + torch.arange(b).view(b, 1, 1, 1, 1) * 1000.0).expand(b, 3, c, r, r).contiguous()


def test_triplane_lookup_hand_computed():
    planes = _ramp_planes()
    # point (x, y, z) = (0, 1, -1): on a 3-texel plane, -1 -> texel 0, 0 -> texel 1, 1 -> texel 2
    points = torch.tensor([[[0.0, 1.0, -1.0]]]).expand(2, 1, 3)
    # xy plane: col = x -> 1, row = y -> 2 : 0 + 20 + 1 = 21; xz: col 1, row 0 -> 101; yz: col 2, row 0 -> 202
    concat = triplane_features(planes, points, "concat")
    assert torch.allclose(concat[0, 0], torch.tensor([21.0, 22.0, 101.0, 102.0, 202.0, 203.0]))
    assert torch.allclose(concat[1, 0, 0], torch.tensor(1021.0))  # scene 1 uses its own planes
    assert torch.allclose(triplane_features(planes, points, "sum")[0, 0], torch.tensor([324.0, 327.0]))
    # halfway between texels interpolates bilinearly: x = 0.5 -> col 1.5
    half = triplane_features(planes, torch.tensor([[[0.5, -1.0, -1.0]]]).expand(2, 1, 3), "concat")
    assert torch.allclose(half[0, 0, 0], torch.tensor(1.5))


def test_kplanes_product_and_scales():
    coarse = torch.full((1, 3, 2, 4, 4), 2.0)
    fine = torch.full((1, 3, 2, 8, 8), 0.5)
    out = kplane_features([coarse, fine], torch.zeros(1, 5, 3))
    assert out.shape == (1, 5, 4)
    assert torch.allclose(out[0, 0], torch.tensor([8.0, 8.0, 0.125, 0.125]))


def test_vm_features_hand_computed_and_upsampling_keeps_values():
    r, n = 2, 5
    planes = torch.zeros(3, r, n, n)
    lines = torch.zeros(3, r, n, 1)
    grid = torch.linspace(-1, 1, n)
    planes[0, 0] = grid[None, :] + 2 * grid[:, None]  # mode 0: plane(x, y) = x + 2y, line(z) = z + 3
    lines[0, 0, :, 0] = grid + 3
    points = torch.tensor([[0.5, -0.5, 0.25]])
    feats = vm_features(planes, lines, points)
    assert feats.shape == (1, 3 * r)
    assert torch.allclose(feats[0, 0], torch.tensor((0.5 - 1.0) * 3.25))
    # upsampling linear fields on a finer grid keeps every lookup unchanged
    up_planes, up_lines = upsample_vm(planes, lines, 9)
    pts = torch.rand(50, 3) * 2 - 1
    assert torch.allclose(vm_features(up_planes, up_lines, pts), vm_features(planes, lines, pts), atol=1e-5)
    # cropping to a sub-box (TensoRF's shrink): a point of the sub-box reads what it read in the whole box
    lo, hi = torch.tensor([-0.5, 0.0, -1.0]), torch.tensor([0.5, 1.0, 0.2])
    for mode in range(3):  # a different linear plane and line in every mode and component
        a, b, c, d = torch.randn(4, r, 1, 1)
        planes[mode] = a * grid[None, :] + b * grid[:, None] + 0.5
        lines[mode, :, :, 0] = c[:, 0] * grid + d[:, 0]
    crop_planes, crop_lines = upsample_vm(planes, lines, 7, lo, hi)
    assert crop_planes.shape == (3, r, 7, 7) and crop_lines.shape == (3, r, 7, 1)
    inside = lo + (pts + 1) / 2 * (hi - lo)  # the same points in the whole box's coordinates
    assert torch.allclose(vm_features(crop_planes, crop_lines, pts), vm_features(planes, lines, inside), atol=1e-5)
