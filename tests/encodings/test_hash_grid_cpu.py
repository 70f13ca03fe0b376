"""The native CPU hash-grid kernel against the pure-PyTorch reference path (values and table gradients)."""

import pytest
import torch

from latent_atlas import backends, native
from latent_atlas.encodings import hash_grid_cpu
from latent_atlas.encodings.hash_grid import HashGridConfig, HashGridEncoding, interpolate_hash_grid

needs_kernel = pytest.mark.skipif(hash_grid_cpu.load_library() is None, reason="no C compiler: the native kernel is unavailable")


def _reference(enc: HashGridEncoding, x: torch.Tensor) -> torch.Tensor:
    table = enc.table.reshape(-1, enc.cfg.features_per_level)
    return interpolate_hash_grid.reference(table, x, enc.resolutions, enc.primes, enc.level_offsets, enc.n_dense, enc.table_size)


@needs_kernel
@pytest.mark.parametrize("features", [1, 2, 4])
def test_native_kernel_matches_reference_values_and_gradients(features):
    torch.manual_seed(features)
    cfg = HashGridConfig(n_levels=6, features_per_level=features, log2_hashmap_size=11, base_resolution=3, max_resolution=300, init_scale=1.0)
    enc = HashGridEncoding(cfg)
    assert 0 < enc.n_dense < 6  # dense and hashed levels both exercised
    x = torch.rand(3000, 3) * 1.2 - 0.1  # some points outside [0, 1]^3 (clamped)
    x[:3] = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.5, 1.0, 0.0]])
    grad = torch.randn(3000, 6 * features)
    ref = _reference(enc, x)
    (ref * grad).sum().backward()
    ref_grad, enc.table.grad = enc.table.grad.clone(), None
    native = hash_grid_cpu.interpolate_native(enc.table.reshape(-1, features), x, enc.resolutions, enc.n_dense, enc.table_size)
    (native * grad).sum().backward()
    assert torch.allclose(native, ref, atol=1e-5)
    assert torch.allclose(enc.table.grad, ref_grad, atol=1e-4)
    assert ref_grad.abs().max() > 1.0  # the gradients compared are not all zero


@needs_kernel
def test_encoding_uses_native_kernel_only_under_auto(monkeypatch):
    enc = HashGridEncoding(HashGridConfig(n_levels=2, log2_hashmap_size=8, base_resolution=2, max_resolution=8))
    x = torch.rand(10, 3)
    calls = []
    real = hash_grid_cpu.interpolate_native
    monkeypatch.setattr(hash_grid_cpu, "interpolate_native", lambda *a: calls.append(1) or real(*a))
    enc(x)
    assert calls == [1]
    enc(x.requires_grad_(True))  # gradients for positions (normals): the reference path
    monkeypatch.setattr(backends, "_backend", "reference")
    enc(x.detach())
    assert calls == [1]


def test_failed_compile_falls_back_with_a_warning(monkeypatch, tmp_path):
    monkeypatch.setattr(native, "_loaded", {})  # as if never loaded; restored afterwards
    monkeypatch.setenv("LATLAS_KERNEL_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    with pytest.warns(UserWarning, match="no native CPU kernel"):
        assert hash_grid_cpu.load_library() is None
    assert not list(tmp_path.glob("*.so"))  # nothing half-written left behind
    enc = HashGridEncoding(HashGridConfig(n_levels=2, log2_hashmap_size=8, base_resolution=2, max_resolution=8))
    x = torch.rand(7, 3)
    assert torch.allclose(enc(x), _reference(enc, x))  # still works, by the reference path


@needs_kernel
def test_native_kernel_takes_non_contiguous_inputs_and_expanded_gradients():
    """Copies made for the kernel must outlive the call (a freed copy read garbage or crashed)."""
    enc = HashGridEncoding(HashGridConfig(n_levels=4, log2_hashmap_size=10, base_resolution=4, max_resolution=64, init_scale=1.0))
    x = torch.rand(3, 4000).T  # strided
    ref = _reference(enc, x)
    ref.sum().backward()
    ref_grad, enc.table.grad = enc.table.grad.clone(), None
    table = enc.table.reshape(-1, 2)
    out = hash_grid_cpu.interpolate_native(table.T.contiguous().T, x, enc.resolutions, enc.n_dense, enc.table_size)  # column-major table
    out.sum().backward()
    assert torch.allclose(out, ref, atol=1e-5)
    assert torch.allclose(enc.table.grad, ref_grad, atol=1e-3)
