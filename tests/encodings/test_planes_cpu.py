"""The native CPU plane sampler against F.grid_sample (values and plane gradients, both padding modes)."""

import pytest
import torch
import torch.nn.functional as F

from latent_atlas import backends
from latent_atlas.encodings import planes_cpu

needs_kernel = pytest.mark.skipif(planes_cpu.load_library() is None, reason="no C compiler: the native kernel is unavailable")


def _value_and_grads(fn, grad, *leaves):
    """fn()'s value and the gradients of `leaves` for the upstream gradient `grad` (left cleared on the leaves)."""
    out = fn()
    (out * grad).sum().backward()
    grads = [leaf.grad.clone() for leaf in leaves]
    for leaf in leaves:
        leaf.grad = None
    return out, *grads


@needs_kernel
@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
@pytest.mark.parametrize("shape", [(3, 5, 17, 11), (2, 4, 9, 1)])  # planes, and lines (width 1)
def test_native_planes_match_grid_sample(padding_mode, shape):
    torch.manual_seed(len(shape) + shape[-1])
    planes = torch.randn(*shape, requires_grad=True)
    grid = torch.rand(shape[0], 700, 2) * 2.4 - 1.2  # some points outside [-1, 1] (padding matters)
    grid[:, :3] = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [1.0, -1.0]])
    grad = torch.randn(shape[0], shape[1], 700)
    ref, ref_grad = _value_and_grads(
        lambda: F.grid_sample(planes, grid[:, :, None], mode="bilinear", padding_mode=padding_mode, align_corners=True)[..., 0], grad, planes
    )
    out, out_grad = _value_and_grads(lambda: planes_cpu._NativePlanes.apply(planes, grid, padding_mode == "border").permute(0, 2, 1), grad, planes)
    assert torch.allclose(out, ref, atol=1e-5)
    assert torch.allclose(out_grad, ref_grad, atol=1e-4)
    assert ref_grad.abs().max() > 1.0


@needs_kernel
def test_sample_bilinear_dispatch(monkeypatch):
    planes, grid = torch.randn(3, 32, 8, 8), torch.rand(3, 20, 2) * 2 - 1
    calls = []
    real = planes_cpu._NativePlanes.apply
    monkeypatch.setattr(planes_cpu._NativePlanes, "apply", lambda *a: calls.append(1) or real(*a))
    native = planes_cpu.sample_bilinear(planes, grid)
    assert calls == [1]
    planes_cpu.sample_bilinear(planes[:, :16], grid)  # too few channels to pay: grid_sample
    reference = planes_cpu.sample_bilinear(planes, grid.requires_grad_(True))  # grid gradients: grid_sample
    monkeypatch.setattr(backends, "_backend", "reference")
    planes_cpu.sample_bilinear(planes, grid.detach())
    assert calls == [1]
    assert torch.allclose(native, reference, atol=1e-5)


@needs_kernel
def test_native_planes_take_non_contiguous_inputs_and_expanded_gradients():
    """Copies made for the kernel must outlive the call (a freed copy read garbage or crashed)."""
    planes = torch.randn(3, 40, 30, 32).permute(0, 3, 1, 2).detach().requires_grad_(True)  # [3, 32, 40, 30], strided
    grid = (torch.rand(3, 2, 5000) * 2 - 1).transpose(1, 2)
    ref = F.grid_sample(planes, grid[:, :, None], mode="bilinear", align_corners=True)[..., 0]
    ref.sum().backward()  # sum's gradient is an expanded (stride-0) tensor
    ref_grad, planes.grad = planes.grad.clone(), None
    out = planes_cpu.sample_bilinear(planes, grid)
    out.sum().backward()
    assert torch.allclose(out, ref, atol=1e-5)
    assert torch.allclose(planes.grad, ref_grad, atol=1e-3)


def _triplanes_by_grid_sample(planes, points, reduction):
    """The reference: each of the xy, xz, yz planes through F.grid_sample (border), then summed or multiplied."""
    b, _, c, r, _ = planes.shape
    sampled = []
    for p, axes in enumerate(((0, 1), (0, 2), (1, 2))):
        grid = points[..., list(axes)][:, :, None]  # [B, n, 1, 2]
        sampled.append(F.grid_sample(planes[:, p], grid, mode="bilinear", padding_mode="border", align_corners=True)[..., 0].transpose(1, 2))
    return sampled[0] + sampled[1] + sampled[2] if reduction == "sum" else sampled[0] * sampled[1] * sampled[2]


@needs_kernel
@pytest.mark.parametrize("reduction", ["sum", "product"])
@pytest.mark.parametrize("channels", [3, 16, 70])  # 70: more than one pass of 64 channels
def test_fused_triplanes_match_grid_sample(reduction, channels):
    torch.manual_seed(channels)
    planes = torch.randn(2, 3, channels, 11, 11, requires_grad=True)
    points = torch.rand(2, 600, 3) * 2.4 - 1.2  # some outside the box: border padding
    points[:, :2] = torch.tensor([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]])
    grad = torch.randn(2, 600, channels)
    ref, ref_grad = _value_and_grads(lambda: _triplanes_by_grid_sample(planes, points, reduction), grad, planes)
    out, out_grad = _value_and_grads(lambda: planes_cpu.fused_triplanes(planes, points, reduction), grad, planes)
    assert torch.allclose(out, ref, atol=1e-5)
    assert torch.allclose(out_grad, ref_grad, atol=1e-4)
    assert ref_grad.abs().max() > 1.0


@needs_kernel
def test_fused_triplanes_dispatch(monkeypatch):
    """triplane_features fuses sum and product when the points need no gradient, under the auto backend only."""
    from latent_atlas.encodings.planes import triplane_features

    planes, points = torch.randn(1, 3, 8, 6, 6), torch.rand(1, 50, 3) * 2 - 1
    assert planes_cpu.fused_triplanes(planes, points, "concat") is None
    assert planes_cpu.fused_triplanes(planes, points.clone().requires_grad_(True), "sum") is None
    fused = triplane_features(planes, points, "product")
    monkeypatch.setattr(backends, "_backend", "reference")
    assert planes_cpu.fused_triplanes(planes, points, "product") is None
    assert torch.allclose(fused, triplane_features(planes, points, "product"), atol=1e-6)


@needs_kernel
@pytest.mark.parametrize("rank", [5, 16, 70])
@pytest.mark.parametrize("n_points", [900, 30])  # 30: the backward splits channels (copies outweigh the points)
def test_fused_vm_matches_grid_sample(rank, n_points, monkeypatch):
    """TensoRF's VM features, fused, against the reference (two grid_samples and a product), values and gradients."""
    from latent_atlas.encodings.tensor_vm import vm_features

    torch.manual_seed(rank)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)  # both backward paths split work between threads
    planes = torch.randn(3, rank, 13, 13, requires_grad=True)
    lines = torch.randn(3, rank, 13, 1, requires_grad=True)
    points = torch.rand(n_points, 3) * 2.4 - 1.2  # some outside the box: zeros padding
    points[:2] = torch.tensor([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]])
    grad = torch.randn(n_points, 3 * rank)
    fused, *fused_grads = _value_and_grads(lambda: planes_cpu.fused_vm(planes, lines, points), grad, planes, lines)
    monkeypatch.setattr(backends, "_backend", "reference")
    assert planes_cpu.fused_vm(planes, lines, points) is None
    ref, *ref_grads = _value_and_grads(lambda: vm_features(planes, lines, points), grad, planes, lines)
    assert torch.allclose(fused, ref, atol=1e-5)
    assert torch.allclose(fused_grads[0], ref_grads[0], atol=1e-4)
    assert torch.allclose(fused_grads[1], ref_grads[1], atol=1e-4)
    assert ref_grads[1].abs().max() > 1.0
