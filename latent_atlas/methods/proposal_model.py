"""Models sampled by proposal networks (nerfacto, k-planes): proposal densities place the field's samples."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from dataclasses import field as dataclass_field  # configs have an attribute named `field`

import torch
from torch import Tensor, nn

from latent_atlas.cameras import RayBundle
from latent_atlas.encodings.hash_grid import HashGridConfig
from latent_atlas.fields.density_field import DensityField
from latent_atlas.fields.ngp_field import NGPField, NGPFieldConfig
from latent_atlas.methods.base import Model, ModelConfig, PixelLossFn, default_pixel_loss
from latent_atlas.rendering.field_rendering import render_field
from latent_atlas.rendering.proposal import distortion_loss, interlevel_loss, pdf_edges
from latent_atlas.rendering.samplers import lindisp_edges, sample_points, spacing_lindisp, stratified_edges
from latent_atlas.rendering.volume import render_weights


def _default_proposal_net() -> NGPFieldConfig:
    return NGPFieldConfig(hash_grid=HashGridConfig(n_levels=5, log2_hashmap_size=17, max_resolution=128), hidden=16)


@dataclass
class ProposalModelConfig(ModelConfig):
    """A grid field sampled through a cascade of proposal density networks."""

    field: NGPFieldConfig = dataclass_field(default_factory=lambda: NGPFieldConfig(appearance_dim=32))
    """The radiance field."""
    proposal_net: NGPFieldConfig = dataclass_field(default_factory=_default_proposal_net)
    """Architecture of each proposal network (its grid's finest resolution comes from proposal_resolutions)."""
    proposal_resolutions: tuple[int, ...] = (128, 256)
    """Finest grid resolution of each proposal network (one network per entry)."""
    proposal_samples: tuple[int, ...] = (256, 96)
    """Samples per ray evaluated by each proposal network."""
    nerf_samples: int = 48
    """Samples per ray evaluated by the field."""
    anneal_steps: int = 1000
    """Steps over which proposal weights are annealed (sharpened) for resampling."""
    anneal_slope: float = 10.0
    """Slope of the annealing schedule."""
    interlevel_weight: float = 1.0
    """Weight of the proposal (interlevel) loss."""
    distortion_weight: float = 0.002
    """Weight of the distortion loss."""
    far_plane: float = 1000.0
    """Far distance for unbounded scenes (field.contraction != none)."""
    min_near: float = 0.05
    """Smallest ray start distance."""

    def setup(self, channels: int, box_min: Tensor, box_max: Tensor, num_cameras: int = 1) -> ProposalModel:
        return ProposalModel(self, channels, box_min, box_max, num_cameras)

    def proposal_configs(self) -> list[NGPFieldConfig]:
        """One config per proposal network, with its resolution and the field's contraction."""
        configs = []
        for resolution in self.proposal_resolutions:
            cfg = copy.deepcopy(self.proposal_net)
            cfg.contraction = self.field.contraction
            cfg.hash_grid.max_resolution = resolution
            cfg.kplanes.base_resolution = resolution
            configs.append(cfg)
        return configs


class ProposalModel(Model):
    """Parameter groups 'proposal_networks' and 'fields'."""

    def __init__(self, config: ProposalModelConfig, channels: int, box_min: Tensor, box_max: Tensor, num_cameras: int):
        super().__init__()
        if len(config.proposal_resolutions) != len(config.proposal_samples):
            raise ValueError("proposal_resolutions and proposal_samples need one entry per proposal network")
        self.config = config
        self.channels = channels
        self.field = NGPField(config.field, channels, box_min, box_max, num_cameras)
        self.proposals = nn.ModuleList(DensityField(cfg, box_min, box_max) for cfg in config.proposal_configs())
        self.anneal = 1.0

    def before_step(self, step: int, progress: float = 0.0) -> bool:
        cfg = self.config
        frac = min(max(step / max(cfg.anneal_steps, 1), 0.0), 1.0)
        self.anneal = cfg.anneal_slope * frac / ((cfg.anneal_slope - 1.0) * frac + 1.0)
        return False

    def _initial_edges(self, rays: RayBundle, n: int, perturb: bool) -> Tensor:
        if self.config.field.contraction == "none":
            return stratified_edges(rays.near, rays.far, n, perturb)
        near = torch.full_like(rays.near, self.config.min_near)
        return lindisp_edges(near, torch.full_like(rays.far, self.config.far_plane), n, perturb)

    def forward(self, rays: RayBundle, background: Tensor) -> dict[str, Tensor]:
        cfg = self.config
        perturb = self.training
        anneal = self.anneal if self.training else 1.0
        counts = list(cfg.proposal_samples) + [cfg.nerf_samples]
        edges = self._initial_edges(rays, counts[0], perturb)
        ray_times = rays.metadata.get("time") if self.config.uses_time else None  # [n, 1]

        def sample_times(n_samples: int) -> Tensor | None:
            return None if ray_times is None else ray_times.expand(-1, n_samples).reshape(-1, 1)

        history = []
        for level, proposal in enumerate(self.proposals):
            positions, _ = sample_points(rays.origins, rays.directions, edges)
            density = proposal.density(positions.reshape(-1, 3), sample_times(positions.shape[1])).reshape(positions.shape[:2])
            weights = render_weights(density, edges[:, 1:] - edges[:, :-1])
            history.append((edges, weights))
            edges = pdf_edges(edges, weights.detach() ** anneal, counts[level + 1], perturb)

        n_rays, n_samples = edges.shape[0], edges.shape[1] - 1
        cams = None if (rays.camera_indices is None or not self.training) else rays.camera_indices[:, None].expand(n_rays, n_samples).reshape(-1)
        times = sample_times(n_samples)

        def field_fn(positions: Tensor, directions: Tensor) -> tuple[Tensor, Tensor]:
            density, color = self.field.density_and_color(positions.reshape(-1, 3), directions.reshape(-1, 3), cams, times)
            return density.reshape(n_rays, n_samples), color.reshape(n_rays, n_samples, -1)

        out = render_field(field_fn, rays, edges, background, normals=self.render_normals and not self.training)
        out["edges"] = edges
        out["proposal_history"] = history
        return out

    def _spacing(self, edges: Tensor) -> Tensor:
        return edges if self.config.field.contraction == "none" else spacing_lindisp(edges)

    def loss_dict(self, outputs: dict, target: Tensor, pixel_loss: PixelLossFn = default_pixel_loss) -> dict[str, Tensor]:
        cfg = self.config
        losses = pixel_loss(outputs["color"], target)
        if self.training and cfg.interlevel_weight > 0:
            history = [(self._spacing(e), w) for e, w in outputs["proposal_history"]]
            losses["interlevel"] = cfg.interlevel_weight * interlevel_loss(self._spacing(outputs["edges"]), outputs["weights"], history)
        if self.training and cfg.distortion_weight > 0:
            losses["distortion"] = cfg.distortion_weight * distortion_loss(self._spacing(outputs["edges"]), outputs["weights"])
        return losses

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"proposal_networks": list(self.proposals.parameters()), "fields": list(self.field.parameters())}
