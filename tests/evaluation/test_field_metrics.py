"""Metrics as the field reports them: PSNR/SSIM on 8-bit images (checked against numpy references written
here), LPIPS only with its weights on disk (wiring checked against a hand computation), else 'unavailable'."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from latent_atlas.evaluation.evaluate import EvalConfig, evaluate_run
from latent_atlas.evaluation.lpips import BACKBONE_FILE, CHANNELS, HEADS_FILE, find_lpips_weights, load_lpips
from latent_atlas.evaluation.metrics import psnr, quantise_8bit, ssim
from latent_atlas.tasks.scene import SceneTask
from tests.tasks.helpers import tiny_config


def _numpy_psnr_uint8(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2) / 255.0**2
    return -10 * math.log10(mse)


def _numpy_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of float images [H, W, C] in [0, 1]: 11x11 Gaussian window (sigma 1.5), valid positions, mean."""
    x = np.arange(11) - 5
    g = np.exp(-(x**2) / (2 * 1.5**2))
    window = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = 0.01**2, 0.03**2
    values = []
    for ch in range(a.shape[2]):
        for i in range(a.shape[0] - 10):
            for j in range(a.shape[1] - 10):
                pa, pb = a[i : i + 11, j : j + 11, ch], b[i : i + 11, j : j + 11, ch]
                ma, mb = (window * pa).sum(), (window * pb).sum()
                va, vb = (window * pa * pa).sum() - ma**2, (window * pb * pb).sum() - mb**2
                cov = (window * pa * pb).sum() - ma * mb
                values.append(((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    return float(np.mean(values))


def test_8bit_psnr_and_ssim_match_numpy_references():
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(20, 24, 3, generator=generator)
    b = (a + 0.05 * torch.randn(20, 24, 3, generator=generator)).clamp(0, 1)
    a8, b8 = (a * 255).round().numpy().astype(np.uint8), (b * 255).round().numpy().astype(np.uint8)
    assert psnr(quantise_8bit(a), quantise_8bit(b)) == pytest.approx(_numpy_psnr_uint8(a8, b8), abs=1e-4)
    assert ssim(quantise_8bit(a), quantise_8bit(b)) == pytest.approx(_numpy_ssim(a8 / 255.0, b8 / 255.0), abs=1e-4)
    assert quantise_8bit(torch.tensor([0.5019, 1.2, -0.1])).tolist() == pytest.approx([128 / 255, 1.0, 0.0])


def test_eval_reports_8bit_metrics_and_says_why_lpips_is_missing(micro_scene, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no-hub"))
    run = SceneTask(tiny_config(micro_scene, tmp_path, steps=20, rays_per_batch=128)).train()
    results = evaluate_run(EvalConfig(run=run, save_images=False))["results"]
    assert abs(results["psnr_8bit"] - results["psnr"]) < 0.2 and 0 < results["ssim_8bit"] <= 1
    assert results["lpips"] is None and results["lpips_status"].startswith(f"unavailable: no AlexNet backbone {BACKBONE_FILE}")
    written = json.loads((run / "eval" / "metrics.json").read_text())
    assert written["per_image"][0]["lpips"] is None and "psnr_8bit" in written["per_image"][0]


def _fake_weights(folder):
    """Random AlexNet (torchvision key names) and LPIPS v0.1 head files (lpips key names)."""
    generator = torch.Generator().manual_seed(1)
    shapes = [(64, 3, 11, 11), (192, 64, 5, 5), (384, 192, 3, 3), (256, 384, 3, 3), (256, 256, 3, 3)]
    trunk = {}
    for index, shape in zip((0, 3, 6, 8, 10), shapes):
        trunk[f"features.{index}.weight"] = torch.randn(shape, generator=generator) * 0.05
        trunk[f"features.{index}.bias"] = torch.randn(shape[0], generator=generator) * 0.01
    heads = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=generator) for i, c in enumerate(CHANNELS)}
    torch.save(trunk, folder / BACKBONE_FILE)
    torch.save(heads, folder / HEADS_FILE)
    return trunk, heads


def test_lpips_wiring_against_a_hand_computation(tmp_path):
    trunk, heads = _fake_weights(tmp_path)
    found = find_lpips_weights(tmp_path)
    assert found == (tmp_path / BACKBONE_FILE, tmp_path / HEADS_FILE)
    model = load_lpips(*found)
    generator = torch.Generator().manual_seed(2)
    a, b = torch.rand(40, 36, 3, generator=generator), torch.rand(40, 36, 3, generator=generator)
    assert float(model(a, a)) == 0.0

    def taps(image):
        x = image.permute(2, 0, 1)[None] * 2 - 1
        x = (x - torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)) / torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
        out = []
        x = F.relu(F.conv2d(x, trunk["features.0.weight"], trunk["features.0.bias"], stride=4, padding=2))
        out.append(x)
        x = F.relu(F.conv2d(F.max_pool2d(x, 3, 2), trunk["features.3.weight"], trunk["features.3.bias"], padding=2))
        out.append(x)
        x = F.relu(F.conv2d(F.max_pool2d(x, 3, 2), trunk["features.6.weight"], trunk["features.6.bias"], padding=1))
        out.append(x)
        for index in (8, 10):
            x = F.relu(F.conv2d(x, trunk[f"features.{index}.weight"], trunk[f"features.{index}.bias"], padding=1))
            out.append(x)
        return out

    expected = 0.0
    for i, (x, y) in enumerate(zip(taps(a), taps(b))):
        nx, ny = x / (x.norm(dim=1, keepdim=True) + 1e-10), y / (y.norm(dim=1, keepdim=True) + 1e-10)
        expected += float((((nx - ny) ** 2) * heads[f"lin{i}.model.1.weight"]).sum(1).mean())
    assert float(model(a, b)) == pytest.approx(expected, rel=1e-5)
