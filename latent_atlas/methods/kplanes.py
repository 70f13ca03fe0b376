"""`kplanes` (Fridovich-Keil et al. 2023): multiscale planes, proposal sampling, plane TV; `kplanes-dynamic` adds
the space-time planes (xt, yt, zt) for dynamic scenes, with k-planes' time-smoothness regulariser."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field  # configs have an attribute named `field`
from typing import ClassVar

from torch import Tensor, nn

from latent_atlas.encodings.kplanes import KPlanesConfig
from latent_atlas.fields.ngp_field import NGPFieldConfig
from latent_atlas.losses.regularisers import plane_tv, time_smoothness
from latent_atlas.methods.base import PixelLossFn, default_pixel_loss
from latent_atlas.methods.proposal_model import ProposalModel, ProposalModelConfig


def _kplanes_field() -> NGPFieldConfig:
    return NGPFieldConfig(encoding="kplanes", kplanes=KPlanesConfig(base_resolution=64, multiscale=(1, 2, 4), features=32), appearance_dim=0)


def _kplanes_proposal() -> NGPFieldConfig:
    return NGPFieldConfig(encoding="kplanes", kplanes=KPlanesConfig(multiscale=(1,), features=8), hidden=16)


@dataclass
class KPlanesModelConfig(ProposalModelConfig):
    """k-planes: planes in the field and in the proposal networks, with total-variation regularisers."""

    field: NGPFieldConfig = dataclass_field(default_factory=_kplanes_field)
    proposal_net: NGPFieldConfig = dataclass_field(default_factory=_kplanes_proposal)
    proposal_resolutions: tuple[int, ...] = (64, 128)
    distortion_weight: float = 0.001
    plane_tv_weight: float = 2e-4
    """Total-variation weight on the field's planes."""
    proposal_tv_weight: float = 2e-4
    """Total-variation weight on the proposal networks' planes."""

    def setup(self, channels: int, box_min: Tensor, box_max: Tensor, num_cameras: int = 1) -> KPlanes:
        return KPlanes(self, channels, box_min, box_max, num_cameras)


def _planes_tv(module: nn.Module) -> Tensor:
    return sum(plane_tv(p) for p in module.encoding.scales)


class KPlanes(ProposalModel):
    """ProposalModel whose grids are k-planes, plus plane TV losses."""

    def loss_dict(self, outputs: dict, target: Tensor, pixel_loss: PixelLossFn = default_pixel_loss) -> dict[str, Tensor]:
        losses = super().loss_dict(outputs, target, pixel_loss)
        cfg = self.config
        if self.training and cfg.plane_tv_weight > 0:
            losses["plane_tv"] = cfg.plane_tv_weight * _planes_tv(self.field)
        if self.training and cfg.proposal_tv_weight > 0:
            losses["proposal_tv"] = cfg.proposal_tv_weight * sum(_planes_tv(p) for p in self.proposals)
        return losses


def _dynamic_field() -> NGPFieldConfig:
    field = _kplanes_field()
    field.kplanes.time_resolution = 25
    return field


def _dynamic_proposal() -> NGPFieldConfig:
    proposal = _kplanes_proposal()
    proposal.kplanes.time_resolution = 25
    return proposal


@dataclass
class DynamicKPlanesConfig(KPlanesModelConfig):
    """k-planes for dynamic scenes: every plane field (and proposal network) also has xt, yt, zt planes."""

    uses_time: ClassVar[bool] = True
    field: NGPFieldConfig = dataclass_field(default_factory=_dynamic_field)
    proposal_net: NGPFieldConfig = dataclass_field(default_factory=_dynamic_proposal)
    time_smoothness_weight: float = 1e-3
    """Weight of the second-difference smoothness along time of the field's space-time planes."""

    def setup(self, channels: int, box_min: Tensor, box_max: Tensor, num_cameras: int = 1) -> DynamicKPlanes:
        return DynamicKPlanes(self, channels, box_min, box_max, num_cameras)


class DynamicKPlanes(KPlanes):
    """KPlanes whose planes include time, plus the time-smoothness loss."""

    def loss_dict(self, outputs: dict, target: Tensor, pixel_loss: PixelLossFn = default_pixel_loss) -> dict[str, Tensor]:
        losses = super().loss_dict(outputs, target, pixel_loss)
        if self.training and self.config.time_smoothness_weight > 0:
            losses["time_smoothness"] = self.config.time_smoothness_weight * sum(time_smoothness(p) for p in self.field.encoding.time_scales)
        return losses
