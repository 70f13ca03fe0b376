"""--mixed-precision: which dtype a run autocasts to, and clear refusals."""

import pytest
import torch

from latent_atlas.engine.precision import autocast, grad_scaler, resolve_precision
from latent_atlas.errors import ConfigError

CPU = torch.device("cpu")


def test_auto_is_full_precision_on_cpu():
    assert resolve_precision("auto", CPU) is None
    assert resolve_precision("off", CPU) is None
    assert not grad_scaler(CPU, None).is_enabled()
    with autocast(CPU, None):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_half_precision_on_cpu_is_refused():
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        resolve_precision("fp16", CPU)
    with pytest.raises(ConfigError, match="choose from auto, off, bf16, fp16"):
        resolve_precision("fp8", CPU)


def test_auto_follows_the_method_on_cuda():
    """A method that measured bf16 slower (triplane) keeps fp32 under auto; the check needs no GPU."""
    from latent_atlas.methods.registry import method_config

    assert not method_config("triplane").bf16_on_cuda and method_config("instant-ngp").bf16_on_cuda
    assert resolve_precision("auto", torch.device("cuda"), bf16_on_cuda=False) is None
