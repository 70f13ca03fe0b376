"""The native CPU plane sampler against F.grid_sample (values and plane gradients, both padding modes)."""

import pytest
import torch
import torch.nn.functional as F

from latent_atlas import backends
from latent_atlas.encodings import planes_cpu

needs_kernel = pytest.mark.skipif(planes_cpu.load_library() is None, reason="no C compiler: the native kernel is unavailable")


@needs_kernel
@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
@pytest.mark.parametrize("shape", [(3, 5, 17, 11), (2, 4, 9, 1)])  # planes, and lines (width 1)
def test_native_planes_match_grid_sample(padding_mode, shape):
    torch.manual_seed(len(shape) + shape[-1])
    planes = torch.randn(*shape, requires_grad=True)
    grid = torch.rand(shape[0], 700, 2) * 2.4 - 1.2  # some points outside [-1, 1] (padding matters)
    grid[:, :3] = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [1.0, -1.0]])
    grad = torch.randn(shape[0], shape[1], 700)
    ref = F.grid_sample(planes, grid[:, :, None], mode="bilinear", padding_mode=padding_mode, align_corners=True)[..., 0]
    (ref * grad).sum().backward()
    ref_grad, planes.grad = planes.grad.clone(), None
    out = planes_cpu._NativePlanes.apply(planes, grid, padding_mode == "border").permute(0, 2, 1)
    (out * grad).sum().backward()
    assert torch.allclose(out, ref, atol=1e-5)
    assert torch.allclose(planes.grad, ref_grad, atol=1e-4)
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
