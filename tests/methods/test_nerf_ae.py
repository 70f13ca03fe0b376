"""NeRF-AE: material-code bottleneck, its regulariser, and a short run with a PSNR bound."""

import json

import torch

from latent_atlas.fields.nerf_ae_field import NeRFAEField, NeRFAEFieldConfig
from latent_atlas.methods.registry import method_config
from latent_atlas.tasks.scene import SceneTask
from tests.tasks.helpers import tiny_config


def test_codes_are_the_bottleneck():
    field = NeRFAEField(NeRFAEFieldConfig(width=32, depth=2, skips=(), code_size=5, position_frequencies=4), channels=4)
    density, color, code = field.forward_with_code(torch.rand(3, 7, 3), torch.rand(3, 7, 3))
    assert density.shape == (3, 7) and color.shape == (3, 7, 4) and code.shape == (3, 7, 5)
    # density and colour depend on the point only through its code
    same = field.density_decoder(code)
    assert torch.allclose(torch.nn.functional.softplus(same[..., 0] - 1.0), density)


def test_nerf_ae_learns_and_regularises_codes(tiny_scene, tmp_path):
    model = method_config("nerf-ae").model
    model.field.width, model.field.depth, model.field.skips, model.field.view_dependent = 64, 3, (), False
    model.field.position_frequencies, model.n_samples, model.n_importance, model.code_weight = 6, 32, 0, 0.01
    cfg = tiny_config(tiny_scene, tmp_path, steps=150, method="nerf-ae", model=model, rays_per_batch=512, background="white", log_every=1)
    cfg.method.optimizers["fields"].lr = 3e-3
    run = SceneTask(cfg).train()
    assert json.loads((run / "summary.json").read_text())["eval_psnr"] > 16.0  # a constant white image: ~11 dB
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if "loss_code" in line]
    assert lines and all(line["loss_code"] > 0 for line in lines)
