"""Backend selection: the reference path on CPU under auto, the compiled copy when asked, fallback on failure."""

import pytest
import torch

from latent_atlas import backends
from latent_atlas.backends import accelerated, set_backend


@pytest.fixture
def fake_compile(monkeypatch):
    """torch.compile replaced by a marker that doubles the result (no compiler needed on CPU)."""
    calls = []

    def compile_(fn, **kwargs):
        calls.append(kwargs)
        return lambda *a, **k: 2 * fn(*a, **k)

    monkeypatch.setattr(torch, "compile", compile_)
    yield calls
    set_backend("auto")


def test_auto_uses_reference_on_cpu(fake_compile):
    f = accelerated(lambda x: x + 1)
    set_backend("auto")
    assert f(torch.ones(2)).tolist() == [2.0, 2.0]
    assert fake_compile == []


def test_compiled_backend_compiles_once_with_dynamic_shapes(fake_compile):
    f = accelerated(lambda x: x + 1)
    set_backend("compiled")
    assert f(torch.ones(2)).tolist() == [4.0, 4.0]
    assert f(torch.ones(3)).tolist() == [4.0, 4.0, 4.0]
    assert fake_compile == [{"dynamic": True}]
    assert f.reference(torch.ones(1)).tolist() == [2.0]


def test_failed_compile_falls_back_to_reference(monkeypatch):
    def broken(fn, **kwargs):
        def run(*a, **k):
            raise RuntimeError("no compiler")

        return run

    monkeypatch.setattr(torch, "compile", broken)
    set_backend("compiled")
    try:
        f = accelerated(lambda x: x * 3)
        with pytest.warns(UserWarning, match="compiled path failed"):
            assert f(torch.ones(1)).item() == 3.0
        assert f(torch.ones(1)).item() == 3.0  # no second warning: the reference is used from then on
    finally:
        set_backend("auto")


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="choose from auto, reference, compiled"):
        set_backend("triton")
    assert backends.get_backend() == "auto"


def test_auto_false_functions_stay_reference_under_auto(fake_compile, monkeypatch):
    monkeypatch.setattr(backends, "wants_compiled", lambda device, auto=True: auto)  # as if on CUDA
    f = accelerated(auto=False)(lambda x: x + 1)
    g = accelerated(lambda x: x + 1)
    set_backend("auto")
    assert f(torch.ones(1)).item() == 2.0 and g(torch.ones(1)).item() == 4.0
