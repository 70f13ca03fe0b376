"""Shared fixtures: tiny synthetic scenes made by the package itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from latent_atlas.data.synth.writer import SynthConfig, synthesize


def _test_threads() -> int:
    """Torch threads per test process: 2 in one process, the cores shared out (1 on 2 cores) among pytest-xdist
    workers; LATLAS_TEST_THREADS overrides."""
    if "LATLAS_TEST_THREADS" in os.environ:
        return int(os.environ["LATLAS_TEST_THREADS"])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)  # no affinity on macOS
    return max(1, min(2, cores // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))


TEST_THREADS = _test_threads()


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(TEST_THREADS)


@pytest.fixture(scope="session")
def tiny_scene(tmp_path_factory) -> Path:
    """A 32x32 'objects' scene: 40 train, 3 val, 3 test views, in Blender + nerfstudio layouts."""
    root = tmp_path_factory.mktemp("synth")
    cfg = SynthConfig(output=root, family="objects", num_scenes=1, resolution=32, num_train=40, num_val=3, num_test=3, seed=3)
    return synthesize(cfg)[0]


@pytest.fixture(scope="session")
def micro_scene(tmp_path_factory) -> Path:
    """A 16x16 'cars' scene with 6 train, 2 val, 2 test views (for format and error tests)."""
    root = tmp_path_factory.mktemp("micro")
    cfg = SynthConfig(output=root, family="cars", num_scenes=1, resolution=16, num_train=6, num_val=2, num_test=2, seed=1, supersample=1)
    return synthesize(cfg)[0]


@pytest.fixture(scope="session")
def dynamic_scene(tmp_path_factory) -> Path:
    """A 24x24 dynamic scene (D-NeRF layout): 40 training frames at times spread over [0, 1], 3 val and 3 test."""
    cfg = SynthConfig(output=tmp_path_factory.mktemp("dyn"), family="dynamic", resolution=24, num_train=40, num_val=3, num_test=3, seed=4)
    return synthesize(cfg)[0]


def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` are skipped cleanly where CUDA is not available."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
