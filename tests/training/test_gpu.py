"""GPU checks (skipped without CUDA): the CUDA path agrees with the CPU reference."""

import pytest
import torch

from latent_atlas.training.trainer import Trainer
from tests.training.helpers import tiny_config


@pytest.mark.gpu
def test_cuda_forward_matches_cpu(micro_scene, tmp_path):
    cpu = Trainer(tiny_config(micro_scene, tmp_path / "cpu", steps=1, rays_per_batch=128))
    gpu = Trainer(tiny_config(micro_scene, tmp_path / "gpu", steps=1, rays_per_batch=128, device="cuda"))
    gpu.model.load_state_dict(cpu.model.state_dict())
    cpu.model.eval(), gpu.model.eval()
    batch = cpu.sampler.sample(128)
    from latent_atlas.training.render_views import camera_rays

    rays = camera_rays(cpu.train_cameras, batch.camera_indices, batch.pixel_x, batch.pixel_y, cpu.box_min, cpu.box_max)
    bg = torch.ones(128, 3)
    with torch.no_grad():
        a = cpu.model(rays, bg)["color"]
        b = gpu.model(rays.to("cuda"), bg.cuda())["color"].cpu()
    assert torch.allclose(a, b, atol=1e-4)


@pytest.mark.gpu
def test_cuda_training_learns(tiny_scene, tmp_path):
    run = Trainer(tiny_config(tiny_scene, tmp_path, steps=400, rays_per_batch=512, device="cuda")).train()
    import json

    assert json.loads((run / "summary.json").read_text())["eval_psnr"] > 20.0
