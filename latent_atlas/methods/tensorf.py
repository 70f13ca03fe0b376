"""`tensorf` (Chen et al. 2022): VM-decomposed radiance field, coarse-to-fine grids, alpha-mask pruning."""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field as dataclass_field  # configs have an attribute named `field`

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latent_atlas.cameras import RayBundle, ray_box_intersection
from latent_atlas.fields.tensorf_field import TensoRFField, TensoRFFieldConfig
from latent_atlas.methods.base import Model, ModelConfig, PixelLossFn, default_pixel_loss
from latent_atlas.rendering.marching import march_samples, render_marched
from latent_atlas.rendering.occupancy import corner_cells, trilinear_nonzero


@dataclass
class TensoRFConfig(ModelConfig):
    """TensoRF-VM model and its grid schedule."""

    field: TensoRFFieldConfig = dataclass_field(default_factory=TensoRFFieldConfig)
    """Tensor components and appearance decoder."""
    initial_resolution: int = 128
    """Grid resolution per axis at the start."""
    final_resolution: int = 300
    """Grid resolution per axis after the last upsampling."""
    upsample_at: tuple[float, ...] = (2000 / 30000, 3000 / 30000, 4000 / 30000, 5500 / 30000, 7000 / 30000)
    """Fractions of the run (steps or --max-time, whichever binds) at which the grids grow
    (total voxels grow geometrically); the paper's steps 2000-7000 of 30000."""
    alpha_mask_at: tuple[float, ...] = (2000 / 30000, 4000 / 30000)
    """Fractions of the run at which the alpha mask (empty-space skipping) is recomputed."""
    step_ratio: float = 0.5
    """Ray-marching step in voxels."""
    step_ratio_before_mask: float = 1.0
    """Multiplies step_ratio until the first alpha mask: before it every sample of every ray is evaluated (nothing is
    culled yet), so a coarser march makes those first steps cheaper; the mask itself and every later step use
    step_ratio."""
    max_samples: int = 1024
    """Upper bound on samples per ray."""
    distance_scale: float = 25.0
    """Density multiplier in alpha = 1 - exp(-sigma * delta * scale)."""
    alpha_mask_threshold: float = 1e-4
    """Voxels with lower alpha (after 3x3x3 max-pooling) are skipped."""
    weight_threshold: float = 1e-4
    """Samples with lower render weight skip the appearance network."""
    early_stop_eps: float = 1e-4
    """Training evaluates density with gradients only where transmittance is above this (0: everywhere)."""
    shade_all_before_mask: bool = False
    """Shade every sample until the first alpha mask. At initialisation every render weight is under the
    threshold; unshaded samples take the space's black (configure_for_space), so density learns from them in
    every space as in RGB. Shading all of them instead cost a latent bunny 7 s per step and 4 GiB."""
    alpha_mask_min_steps: int = 40
    """Alpha-mask update k (1, 2, ...) waits for at least k times this many steps, whatever the fraction of the
    run: before ~40 steps the density is still noise, a mask made from it culls almost nothing, and every later
    step stays slow (a 2-minute run on a slower CPU made its first mask at step ~35 and ran 1.2 steps/s
    throughout, where a 5-minute run, masked at step ~40, reached 7.9 steps/s). On a GPU run's schedule (steps
    2000 and 4000) it changes nothing."""
    alpha_mask_min_peak: float = 0.1
    """Outside RGB (latent spaces), an alpha-mask update waits (retried every 5% of the run) until some voxel
    is at least this opaque: a mask made before anything solid is learned keeps only noise and stops
    training. RGB follows the paper's schedule as it is (densities are learned well before the first mask)."""
    shrink_box: bool = False
    """At the first alpha-mask update, the grids shrink to the occupied bounds (TensoRF's shrink): the same texels
    over a smaller box, so every voxel after it is finer. Off: at 120 s of CPU (1024 rays, 64^3 -> 128^3) it
    changed PSNR by +0.83 (objects128/bunny), -0.58 (a textured object, 18% fewer steps: finer voxels, more
    samples per ray) and -0.11 dB (an aircraft), one run each (BENCHMARKS.md)."""
    alpha_mask_resolution: int = 128
    """Largest alpha-mask grid side."""
    l1_weight_initial: float = 8e-5
    """Density L1 weight before the first alpha mask."""
    l1_weight_rest: float = 4e-5
    """Density L1 weight afterwards."""
    l1_scale_outside_rgb: float = 0.0
    """Multiplies both L1 weights when the field renders something else than RGB (latent spaces): latent
    targets vary about 10x less than colours, so the paper's L1 prior outweighs the data term there and
    empties the scene (measured: a latent bunny stayed empty with it, learned without it)."""

    def setup(self, channels: int, box_min: Tensor, box_max: Tensor, num_cameras: int = 1) -> TensoRF:
        return TensoRF(self, channels, box_min, box_max)

    def resolution_schedule(self) -> list[int]:
        """Grid side after each upsampling step (geometric in voxel count)."""
        n = len(self.upsample_at)
        counts = [
            math.exp(math.log(self.initial_resolution**3) + (math.log(self.final_resolution**3) - math.log(self.initial_resolution**3)) * (i + 1) / n)
            for i in range(n)
        ]
        return [round(c ** (1 / 3)) for c in counts]


class TensoRF(Model):
    """TensoRF-VM; parameter groups 'grids' (tensor components) and 'networks' (basis + MLP)."""

    def __init__(self, config: TensoRFConfig, channels: int, box_min: Tensor, box_max: Tensor):
        super().__init__()
        self.config = config
        self.channels = channels
        self.field = TensoRFField(config.field, config.initial_resolution, channels)
        self.register_buffer("box_min", box_min.clone().float())
        self.register_buffer("box_max", box_max.clone().float())
        self.register_buffer("alpha_mask", torch.ones(1, 1, 1, 1, 1))  # [1, 1, D, H, W] in (z, y, x) order
        self.register_buffer("mask_box", torch.stack([box_min, box_max]).float())  # occupied bounds [2, 3]
        # how many upsamplings and alpha-mask updates are done (saved, so a resumed run continues the schedule)
        self.register_buffer("schedule_done", torch.zeros(2, dtype=torch.long))
        self._next_mask_try = 0.0  # progress before which a postponed alpha-mask update is not retried
        self._mask_cells: tuple[tuple, Tensor] | None = None  # (which alpha_mask, its corner_cells)
        # the colour of samples that skip the appearance network: black of the image space (saved with the model)
        self.register_buffer("unshaded_color", torch.zeros(channels))
        self.renders_rgb = True  # the paper's priors apply (configure_for_space says otherwise for latents)

    def configure_for_space(self, black: Tensor, colour_values: bool) -> None:
        """Unshaded samples take the space's black: RGB's zero, a latent space's encoding of black. Then density
        gets the same gradient from them in every space (darker than the background: denser). Spaces of colours
        follow the paper; others (latents) get the *_outside_rgb settings."""
        self.unshaded_color.copy_(black.reshape(-1))
        self.renders_rgb = colour_values

    def resize_to_state_dict(self, state_dict: dict[str, Tensor]) -> None:
        """As Model's, and checkpoints written before `unshaded_color` was saved keep the current one (zeros)."""
        state_dict.setdefault("unshaded_color", self.unshaded_color.clone())
        super().resize_to_state_dict(state_dict)

    # ---- schedule -----------------------------------------------------------------------------
    def before_step(self, step: int, progress: float = 0.0) -> bool:
        cfg = self.config
        changed = False
        schedule = cfg.resolution_schedule()
        while self.schedule_done[0] < len(cfg.upsample_at) and progress >= cfg.upsample_at[self.schedule_done[0]]:
            target = schedule[self.schedule_done[0]]
            self.schedule_done[0] += 1
            if target != self.field.resolution:
                self.field.upsample(target)
                changed = True
        while (
            self.schedule_done[1] < len(cfg.alpha_mask_at)
            and progress >= max(cfg.alpha_mask_at[self.schedule_done[1]], self._next_mask_try)
            and step >= cfg.alpha_mask_min_steps * (int(self.schedule_done[1]) + 1)
        ):
            if not self.update_alpha_mask():
                self._next_mask_try = progress + 0.05  # nothing solid yet: try again later
                break
            if cfg.shrink_box and self.schedule_done[1] == 0:
                changed = self.shrink_to_mask() or changed
            self.schedule_done[1] += 1
        return changed

    def step_size(self, before_mask: bool | None = None) -> float:
        """Marching step in world units: step_ratio voxels (times step_ratio_before_mask before the first alpha mask;
        `before_mask` overrides whether that is now)."""
        voxel = ((self.box_max - self.box_min) / (self.field.resolution - 1)).mean().item()
        if before_mask is None:
            before_mask = int(self.schedule_done[1]) == 0
        return voxel * self.config.step_ratio * (self.config.step_ratio_before_mask if before_mask else 1.0)

    def _normalise(self, points: Tensor) -> Tensor:
        return (points - self.box_min) / (self.box_max - self.box_min) * 2.0 - 1.0

    # ---- alpha mask ---------------------------------------------------------------------------
    def _mask_values(self, points: Tensor) -> Tensor:
        """Alpha-mask occupancy at points [m, 3] (world): bool [m], where the mask's trilinear value is > 0 (TensoRF's
        test), read from the cells between its voxels (a gather instead of a grid_sample of every sample)."""
        if self.alpha_mask.numel() == 1:
            return torch.ones(points.shape[0], dtype=torch.bool, device=points.device)
        key = (self.alpha_mask.data_ptr(), self.alpha_mask._version, self.alpha_mask.shape)
        if self._mask_cells is None or self._mask_cells[0] != key:  # a new mask (updated or loaded)
            self._mask_cells = (key, corner_cells(self.alpha_mask[0, 0]))
        return trilinear_nonzero(self._mask_cells[1], self._normalise(points))

    def _set_alpha_mask(self, mask: Tensor) -> None:
        """Replaces the alpha mask [1, 1, D, H, W] and drops its cached corner cells (a new tensor may reuse the old
        one's memory, so the cache key alone can miss the change)."""
        self.alpha_mask = mask
        self._mask_cells = None

    @torch.no_grad()
    def update_alpha_mask(self) -> bool:
        """Recomputes the occupancy grid from the current density and the occupied bounds; False (mask kept)
        while no voxel reaches alpha_mask_min_peak."""
        side = min(self.field.resolution, self.config.alpha_mask_resolution)
        axis = torch.linspace(0.0, 1.0, side, device=self.box_min.device)
        zz, yy, xx = torch.meshgrid(axis, axis, axis, indexing="ij")
        unit = torch.stack([xx, yy, zz], dim=-1).reshape(-1, 3)
        points = self.box_min + unit * (self.box_max - self.box_min)
        keep = self._mask_values(points)
        alpha = torch.zeros(points.shape[0], device=points.device)
        for start in range(0, points.shape[0], 2**18):
            sl = slice(start, start + 2**18)
            inside = keep[sl]
            sigma = torch.zeros(inside.shape[0], device=points.device)
            if inside.any():
                sigma[inside] = self.field.density(self._normalise(points[sl][inside]))
            alpha[sl] = 1.0 - torch.exp(-sigma * self.config.distance_scale * self.step_size(before_mask=False))
        volume = alpha.reshape(1, 1, side, side, side)
        volume = F.max_pool3d(volume, kernel_size=3, stride=1, padding=1)
        occupied = (volume > self.config.alpha_mask_threshold).float()
        if not self.renders_rgb and volume.max() < self.config.alpha_mask_min_peak:
            return False  # nothing solid learned yet: pruning now would keep noise and stop training for good
        if not occupied.any():
            return True  # nothing occupied: pruning everything would stop training for good; keep the old mask
        self._set_alpha_mask(occupied)
        occupied_points = points[occupied.reshape(-1) > 0]
        pad = (self.box_max - self.box_min) / side
        self.mask_box = torch.stack([occupied_points.amin(0) - pad, occupied_points.amax(0) + pad])
        return True

    @torch.no_grad()
    def shrink_to_mask(self) -> bool:
        """Crops the grids to the alpha mask's occupied bounds (resampled at the same resolution) and recomputes the
        mask there; False where the bounds are the whole box."""
        new_min = torch.maximum(self.mask_box[0], self.box_min)
        new_max = torch.minimum(self.mask_box[1], self.box_max)
        if bool((new_max - new_min >= 0.99 * (self.box_max - self.box_min)).all()) or bool((new_max <= new_min).any()):
            return False
        self.field.upsample(self.field.resolution, self._normalise(new_min), self._normalise(new_max))
        self.box_min.copy_(new_min)
        self.box_max.copy_(new_max)
        self._set_alpha_mask(torch.ones(1, 1, 1, 1, 1, device=self.box_min.device))  # the old mask is in the old box
        self.update_alpha_mask()
        return True

    # ---- rendering ----------------------------------------------------------------------------
    def forward(self, rays: RayBundle, background: Tensor) -> dict[str, Tensor]:
        cfg = self.config
        t_in, t_out = ray_box_intersection(rays.origins, rays.directions, self.mask_box[0], self.mask_box[1])
        near, far = torch.maximum(rays.near[:, 0], t_in), torch.minimum(rays.far[:, 0], t_out)
        step = self.step_size()
        t, valid = march_samples(near, far, step, cfg.max_samples, self.training)
        occupancy = self._mask_values if self.alpha_mask.numel() > 1 else None
        shade_all = cfg.shade_all_before_mask and self.training and self.schedule_done[1] == 0
        threshold = -1.0 if shade_all else cfg.weight_threshold
        return render_marched(
            rays,
            t,
            valid,
            step,
            density_fn=lambda p: (self.field.density(self._normalise(p)) * cfg.distance_scale, None),
            color_fn=lambda p, d, _: self.field.appearance(self._normalise(p), d),
            channels=self.channels,
            background=background,
            occupancy_fn=occupancy,
            weight_threshold=threshold,
            early_stop_eps=cfg.early_stop_eps,
            unshaded_color=self.unshaded_color,
        )

    def loss_dict(self, outputs: dict[str, Tensor], target: Tensor, pixel_loss: PixelLossFn = default_pixel_loss) -> dict[str, Tensor]:
        cfg = self.config
        masked = bool(self.schedule_done[1] > 0)
        weight = (cfg.l1_weight_rest if masked else cfg.l1_weight_initial) * (1.0 if self.renders_rgb else cfg.l1_scale_outside_rgb)
        losses = pixel_loss(outputs["color"], target)
        if weight > 0:
            losses["density_l1"] = weight * self.field.density_l1()
        return losses

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        f = self.field
        return {"grids": f.grids(), "networks": list(f.basis.parameters()) + list(f.mlp.parameters())}
