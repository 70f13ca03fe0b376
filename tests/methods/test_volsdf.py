"""VolSDF: Laplace-CDF density, eikonal loss, geometric init, and a short run that learns colours and a surface."""

import json
import math

import pytest
import torch

from latent_atlas.data.synth.sdf import PRIMITIVES_FILE, load_primitives, scene_sdf
from latent_atlas.evaluation.mesh_export import chamfer_to_sdf, extract_mesh
from latent_atlas.fields.sdf_field import SDFFieldConfig, SDFNetwork
from latent_atlas.losses.regularisers import eikonal
from latent_atlas.methods.volsdf import VolSDFConfig
from latent_atlas.rendering.sdf_density import laplace_cdf, volsdf_density
from latent_atlas.tasks.scene import SceneTask
from tests.tasks.helpers import tiny_config


def test_laplace_cdf_matches_the_formula():
    beta = 0.1
    s = torch.tensor([-0.3, -0.05, 0.0, 0.05, 0.3])
    expected = [0.5 * math.exp(-3.0), 0.5 * math.exp(-0.5), 0.5, 1 - 0.5 * math.exp(-0.5), 1 - 0.5 * math.exp(-3.0)]
    torch.testing.assert_close(laplace_cdf(s, beta), torch.tensor(expected))
    # density: 1/beta inside deep, 1/(2 beta) on the surface, ~0 far outside; finite for huge distances
    torch.testing.assert_close(
        volsdf_density(torch.tensor([-10.0, 0.0, 10.0, 1e30, -1e30]), beta), torch.tensor([10.0, 5.0, 0.0, 0.0, 10.0]), atol=1e-6, rtol=0
    )


def test_eikonal_loss_of_analytic_sdfs():
    points = torch.randn(500, 3, requires_grad=True)
    (grad,) = torch.autograd.grad((points.norm(dim=-1) - 0.5).sum(), points)
    assert eikonal(grad).item() < 1e-10  # a true distance function
    (grad2,) = torch.autograd.grad((2.0 * (points.norm(dim=-1) - 0.5)).sum(), points)
    assert eikonal(grad2).item() == pytest.approx(1.0, abs=1e-5)  # |grad| = 2: (2 - 1)^2


def test_geometric_init_is_close_to_a_sphere_sdf():
    torch.manual_seed(0)
    net = SDFNetwork(SDFFieldConfig(width=128, depth=4, skips=(2,), feature_size=8, init_radius=0.5))
    points = torch.rand(2000, 3) * 2 - 1
    sdf, gradient, _ = net.sdf_and_gradient(points, create_graph=False)
    target = points.norm(dim=-1) - 0.5
    assert (sdf - target).abs().mean() < 0.1
    assert ((sdf < 0) == (target < 0)).float().mean() > 0.9
    assert (gradient.norm(dim=-1) - 1).abs().mean() < 0.3


def _small_volsdf() -> VolSDFConfig:
    field = SDFFieldConfig(width=64, depth=3, skips=(), feature_size=16, color_width=64, color_depth=2, init_radius=0.6)
    return VolSDFConfig(field=field, n_samples=24, n_importance=24, eikonal_points=128)


def test_volsdf_learns_colours_and_a_surface(tiny_scene, tmp_path):
    cfg = tiny_config(tiny_scene, tmp_path, steps=200, method="volsdf", rays_per_batch=128, background="white", model=_small_volsdf())
    cfg.method.optimizers["fields"].lr, cfg.method.optimizers["fields"].lr_final = 3e-3, 5e-4
    task = SceneTask(cfg)
    prims, scale = load_primitives(tiny_scene / PRIMITIVES_FILE)

    def truth(points):
        return scene_sdf(points, prims, scale)[0]

    box = task.box_min.cpu(), task.box_max.cpu()
    before = chamfer_to_sdf(*extract_mesh(task.model, *box, resolution=48), truth, *box, n=4000)["chamfer"]
    run = task.train()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["eval_psnr"] > 19.0, summary  # a constant white image: ~11 dB
    after = chamfer_to_sdf(*extract_mesh(task.model, *box, resolution=48), truth, *box, n=4000)["chamfer"]
    assert after < 0.6 * before, (before, after)
    assert task.model.beta.item() < 0.1  # the surface sharpened
