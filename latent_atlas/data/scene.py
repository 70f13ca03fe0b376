"""A scene in memory: per split, its images (RGBA uint8) and cameras."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from latent_atlas.cameras import Cameras

SPLITS = ("train", "val", "test")


@dataclass
class SceneSplit:
    """One split of a scene: images [N, H, W, 4] uint8 RGBA (straight alpha), cameras of N views."""

    images: Tensor
    cameras: Cameras
    image_paths: list[Path]

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def height(self) -> int:
        return self.images.shape[1]

    @property
    def width(self) -> int:
        return self.images.shape[2]

    def rgba(self, index) -> Tensor:
        """Float RGBA in [0, 1] of the selected images: [..., H, W, 4]."""
        return self.images[index].float() / 255.0


@dataclass
class SceneData:
    """A parsed scene folder: splits by name, the scene box and where it came from."""

    splits: dict[str, SceneSplit]
    source: Path
    data_format: str
    box_min: Tensor = field(default_factory=lambda: torch.full((3,), -1.0))
    box_max: Tensor = field(default_factory=lambda: torch.full((3,), 1.0))

    def split(self, name: str) -> SceneSplit:
        """The split called `name`, falling back from test to val (and back) when one is absent."""
        if name in self.splits:
            return self.splits[name]
        for other in {"test": ("val",), "val": ("test",)}.get(name, ()):
            if other in self.splits:
                return self.splits[other]
        raise KeyError(f"{self.source}: no '{name}' split (has {sorted(self.splits)})")


def composite_on_background(rgba: Tensor, background: Tensor) -> Tensor:
    """Straight-alpha compositing: rgba [..., 4] over background [..., 3] (broadcast) -> [..., 3]."""
    alpha = rgba[..., 3:4]
    return rgba[..., :3] * alpha + background * (1.0 - alpha)
