"""Rendering a field along rays: stratified pass, then an optional importance pass (NeRF / EG3D)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from latent_atlas.cameras import RayBundle
from latent_atlas.encodings.integrated import Footprint, frustum_gaussians
from latent_atlas.rendering.samplers import merge_edges, pdf_samples, sample_points, stratified_edges
from latent_atlas.rendering.volume import composite, render_outputs, render_weights

# positions [n, s, 3], directions [n, s, 3] -> density [n, s], channels [n, s, C]
FieldFn = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


def render_field(
    field: FieldFn, rays: RayBundle, edges: Tensor, background: Tensor, footprint: Footprint | None = None, normals: bool = False
) -> dict[str, Tensor]:
    """Volume-renders `field` over bin edges [n, s + 1]: color [n, C], acc [n, 1], depth [n, 1], weights [n, s]
    (+ normals [n, 3]: the weighted sum of -grad(density) / |grad(density)|, when asked; autograd even under no_grad).

    With a footprint (mip-NeRF), the field receives each interval's Gaussian, means and variances [n, s, 6],
    instead of its midpoint [n, s, 3]."""
    positions, t_mid = sample_points(rays.origins, rays.directions, edges)
    directions = rays.directions[:, None, :].expand_as(positions)
    if footprint is not None:
        radii = rays.radii if rays.radii is not None else rays.origins.new_zeros(len(rays), 1)
        positions = torch.cat(frustum_gaussians(rays.origins, rays.directions, edges, radii, footprint), dim=-1)
    if normals:
        with torch.enable_grad():
            positions = positions.detach().requires_grad_(True)
            density, color = field(positions, directions)
            (gradient,) = torch.autograd.grad(density.sum(), positions)
        gradient = gradient[..., :3]
        sample_normals = -gradient / gradient.norm(dim=-1, keepdim=True).clamp_min(1e-9)
        density, color = density.detach(), color.detach()
    else:
        density, color = field(positions, directions)
    weights = render_weights(density, edges[:, 1:] - edges[:, :-1])
    out = render_outputs(weights, color, t_mid, rays.far, background)
    if normals:
        out["normals"] = composite(weights, sample_normals)
    return out


def render_coarse_to_fine(
    coarse: FieldFn,
    fine: FieldFn | None,
    rays: RayBundle,
    background: Tensor,
    n_samples: int,
    n_importance: int,
    perturb: bool,
    footprint: Footprint | None = None,
    normals: bool = False,
    coarse_gradients: bool = True,
) -> dict[str, Tensor]:
    """Stratified samples through `coarse`; with n_importance > 0, coarse + importance samples through `fine`.

    The fine pass's outputs are returned, with the coarse colour as 'color_coarse' (normals: of the last pass).
    coarse_gradients=False: a caller that trains only the fine colour runs the coarse pass without autograd (it
    only places the importance samples, whose weights are detached anyway): the same values and gradients, less
    memory and time.
    """
    edges = stratified_edges(rays.near, rays.far, n_samples, perturb)
    single = n_importance <= 0 or fine is None
    with torch.set_grad_enabled(torch.is_grad_enabled() and (coarse_gradients or single)):
        first = render_field(coarse, rays, edges, background, footprint, normals and single)
    if single:
        return first
    extra = pdf_samples(edges, first["weights"], n_importance, perturb)
    second = render_field(fine, rays, merge_edges(edges, extra), background, footprint, normals)
    second["color_coarse"] = first["color"]
    return second
