"""Adam as tasks build it: fused on the CPU, the same updates as torch's per-tensor loop, and kept fused on resume."""

from __future__ import annotations

import torch

from latent_atlas.engine.checkpoints import flatten_optimizer, restore_optimizer
from latent_atlas.engine.optimizers import adam, fused_supported


def _params(seed: int = 0) -> list[torch.nn.Parameter]:
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(shape, generator=g)) for shape in ((8, 4, 3, 3), (8,), (5, 7))]


def _steps(optimizer: torch.optim.Optimizer, params: list[torch.nn.Parameter], count: int, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    for _ in range(count):
        for p in params:
            p.grad = torch.randn(p.shape, generator=g)
        optimizer.step()


def test_adam_is_fused_on_the_cpu_and_steps_as_the_per_tensor_loop():
    for weight_decay in (0.0, 0.01):
        fused, loop = _params(), _params()
        optimizer = adam(fused, lr=0.05, weight_decay=weight_decay)
        assert optimizer.param_groups[0]["fused"] is True
        assert isinstance(optimizer, torch.optim.AdamW) == (weight_decay > 0)
        reference = (torch.optim.AdamW if weight_decay > 0 else torch.optim.Adam)(loop, lr=0.05, weight_decay=weight_decay, foreach=False)
        _steps(optimizer, fused, 20)
        _steps(reference, loop, 20)
        moved = max(float((a - b).detach().abs().max()) for a, b in zip(fused, _params()))
        assert moved > 0.1  # the steps did something
        for a, b in zip(fused, loop):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_fused_only_for_floating_parameters_on_one_supported_device():
    assert fused_supported([torch.zeros(2), torch.zeros(3, dtype=torch.bfloat16)])
    assert not fused_supported([torch.zeros(2, dtype=torch.int64)])
    assert not fused_supported([torch.zeros(2), torch.zeros(2, device="meta")])


def test_restored_state_keeps_the_optimizer_fused_and_continues_exactly():
    """A checkpoint from an unfused optimizer (an older run) resumes into a fused one: same next step."""
    params = _params()
    old = torch.optim.Adam(params, lr=0.05)
    _steps(old, params, 5)
    tensors, meta = flatten_optimizer("optim", old)
    assert meta["param_groups"][0]["fused"] is None
    resumed_params = [torch.nn.Parameter(p.detach().clone()) for p in params]
    resumed = adam(resumed_params, lr=0.05)
    restore_optimizer("optim", resumed, {k: v.clone() for k, v in tensors.items()}, meta)
    assert resumed.param_groups[0]["fused"] is True
    _steps(old, params, 1, seed=7)
    _steps(resumed, resumed_params, 1, seed=7)
    for a, b in zip(params, resumed_params):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
