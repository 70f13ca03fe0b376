"""GPU checks (skipped without CUDA): the CUDA path agrees with the CPU reference."""

import pytest
import torch

from latent_atlas.tasks.scene import SceneTask
from tests.tasks.helpers import tiny_config


@pytest.mark.gpu
def test_cuda_forward_matches_cpu(micro_scene, tmp_path):
    cpu = SceneTask(tiny_config(micro_scene, tmp_path / "cpu", steps=1, rays_per_batch=128, device="cpu"))  # not auto: CUDA there
    gpu = SceneTask(tiny_config(micro_scene, tmp_path / "gpu", steps=1, rays_per_batch=128, device="cuda"))
    gpu.model.load_state_dict(cpu.model.state_dict())
    cpu.model.eval(), gpu.model.eval()
    batch = cpu.sampler.sample(128)
    from latent_atlas.evaluation.render_views import camera_rays

    rays = camera_rays(cpu.train_cameras, batch.camera_indices, batch.pixel_x, batch.pixel_y, cpu.box_min, cpu.box_max)
    bg = torch.ones(128, 3)
    with torch.no_grad():
        a = cpu.model(rays, bg)["color"]
        b = gpu.model(rays.to("cuda"), bg.cuda())["color"].cpu()
    assert torch.allclose(a, b, atol=1e-4)


@pytest.mark.gpu
def test_cuda_training_learns(tiny_scene, tmp_path):
    run = SceneTask(tiny_config(tiny_scene, tmp_path, steps=400, rays_per_batch=512, device="cuda")).train()
    import json

    assert json.loads((run / "summary.json").read_text())["eval_psnr"] > 20.0


@pytest.mark.gpu
def test_compiled_hash_grid_matches_reference():
    from latent_atlas.backends import set_backend
    from latent_atlas.encodings.hash_grid import (
        HashGridConfig,
        HashGridEncoding,
        interpolate_hash_grid,
    )

    torch.manual_seed(0)
    enc = HashGridEncoding(HashGridConfig(n_levels=8, log2_hashmap_size=14, max_resolution=256, init_scale=0.1)).cuda()
    x = torch.rand(5000, 3, device="cuda")
    outs, grads = [], []
    for backend in ("reference", "compiled"):
        set_backend(backend)
        enc.table.grad = None
        y = enc(x)
        (y * torch.linspace(-1, 1, y.shape[1], device="cuda")).sum().backward()
        outs.append(y.detach()), grads.append(enc.table.grad.clone())
    set_backend("auto")
    assert torch.allclose(outs[0], outs[1], atol=1e-5)
    assert torch.allclose(grads[0], grads[1], atol=1e-4)
    assert interpolate_hash_grid.reference is not interpolate_hash_grid


@pytest.mark.gpu
def test_compiled_volume_rendering_matches_reference():
    from latent_atlas.rendering.marching import transmittance_before
    from latent_atlas.rendering.volume import render_weights

    torch.manual_seed(0)
    sigma = torch.rand(777, 64, device="cuda") * 5
    deltas = torch.rand(777, 64, device="cuda") * 0.05
    from latent_atlas.backends import set_backend

    set_backend("compiled")  # auto keeps these on the reference path (measured faster on CUDA)
    try:
        assert torch.allclose(render_weights(sigma, deltas), render_weights.reference(sigma, deltas), atol=1e-6)
        assert torch.allclose(transmittance_before(sigma, 0.02), transmittance_before.reference(sigma, 0.02), atol=1e-6)
    finally:
        set_backend("auto")


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_training_learns(tiny_scene, tmp_path, precision):
    import json

    cfg = tiny_config(tiny_scene, tmp_path, steps=400, rays_per_batch=512, device="cuda")
    cfg.mixed_precision = precision
    trainer = SceneTask(cfg)
    assert trainer.precision == {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    run = trainer.train()
    assert json.loads((run / "summary.json").read_text())["eval_psnr"] > 20.0


@pytest.mark.gpu
@pytest.mark.parametrize("method", ["instant-ngp", "tensorf", "triplane", "nerfacto", "kplanes"])
def test_fast_methods_learn_on_cuda_with_fast_paths(tiny_scene, tmp_path, method):
    """Every fast method on CUDA with the defaults there (compiled backend, bf16 autocast): the CPU test's bound."""
    import json

    from tests.methods.test_fast_methods import small_config

    model, steps, rays = small_config(method)
    trainer = SceneTask(tiny_config(tiny_scene, tmp_path, steps=steps, method=method, rays_per_batch=rays, model=model, device="cuda"))
    assert trainer.precision == (torch.bfloat16 if trainer.config.method.bf16_on_cuda else None)
    run = trainer.train()
    assert json.loads((run / "summary.json").read_text())["eval_psnr"] > 19.5
