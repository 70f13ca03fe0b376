"""A scene in memory: per split, its images (RGBA uint8) and cameras."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor

from latent_atlas.cameras import Cameras, PackedCameras

if TYPE_CHECKING:
    from latent_atlas.data.view_file import ViewsOnDisk

SPLITS = ("train", "val", "test")

TargetPrecision = Literal["fp32", "fp16"]
"""How a scene mapped into a latent space holds its values (--target-precision); RGB images stay uint8."""


@dataclass
class SceneSplit:
    """One split of a scene: images [N, H, W, 4] uint8 RGBA (straight alpha), or [N, H, W, C + 1] float
    channels + alpha in [0, 1] (a scene mapped into a latent space: fp32, or fp16 to halve their memory), and the
    cameras of N views. The images may be held on disk (ViewsOnDisk: indexing reads views back); read them through
    rgba(index) or by indexing, never as a whole tensor."""

    images: Tensor | ViewsOnDisk
    cameras: Cameras
    image_paths: Sequence[Path]
    metadata: dict[str, Tensor] = field(default_factory=dict)
    """Per-frame values from the parser, each [N, k]: 'time' (dynamic scenes, in [0, 1]), 'light_position',
    'appearance_index', ... They travel to the rays of every batch drawn from these frames."""

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def height(self) -> int:
        return self.images.shape[1]

    @property
    def width(self) -> int:
        return self.images.shape[2]

    @property
    def channels(self) -> int:
        """Colour channels (without alpha)."""
        return self.images.shape[-1] - 1

    @property
    def dynamic(self) -> bool:
        """Whether the frames carry a time (a dynamic scene)."""
        return "time" in self.metadata

    def frame_metadata(self, frame_indices: Tensor) -> dict[str, Tensor]:
        """Each metadata value of the given frames [n]: {name: [n, k]}."""
        return {name: values[frame_indices.to(values.device)] for name, values in self.metadata.items()}

    def rgba(self, index) -> Tensor:
        """Float channels + alpha in [0, 1] of the selected images: [..., H, W, C + 1]."""
        return to_float(self.images[index])


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


class PathList(Sequence[Path]):
    """Paths held as one string (a Path object costs ~0.4 KB of memory); indexing gives Path objects, rebuilt on
    each access (for rare reads: names in reports)."""

    def __init__(self, paths: Sequence[Path]):
        self._count = len(paths)
        self._joined = "\0".join(str(path) for path in paths)

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):
        paths = [Path(text) for text in self._joined.split("\0")] if self._count else []
        return paths[index]


def compact_records(scene: SceneData) -> None:
    """Holds each split's cameras in one tensor and its image paths in one string (PackedCameras, PathList): a stage-2
    scene's two records (RGB and latent), without their views, from 40 to 12 KB (BENCHMARKS.md, session 52); a large
    multi-scene run holds thousands."""
    for split in scene.splits.values():
        if not isinstance(split.cameras, PackedCameras) and split.cameras.camera_to_worlds.dtype == torch.float32:
            split.cameras = PackedCameras(split.cameras)
        if not isinstance(split.image_paths, PathList):
            split.image_paths = PathList(split.image_paths)


def spread_indices(total: int, count: int) -> list[int]:
    """Up to `count` of `total` indices (views, scenes), evenly spaced from the first to the last, rounded."""
    return torch.linspace(0, total - 1, min(count, total)).round().long().tolist()


def to_float(values: Tensor) -> Tensor:
    """uint8 pixels -> float32 in [0, 1]; fp16 / bf16 values (stored latents) -> float32; float32 passes through."""
    return values.float() / 255.0 if values.dtype == torch.uint8 else values.float()


def composite_on_background(rgba: Tensor, background: Tensor) -> Tensor:
    """Straight-alpha compositing: channels + alpha [..., C + 1] over background [..., C] (broadcast) -> [..., C]."""
    alpha = rgba[..., -1:]
    return rgba[..., :-1] * alpha + background * (1.0 - alpha)
