"""Scene-folder formats as a registry: name -> (detect, parse). `load_scene` asks each in order.

Adding a format is one module with a `detect(folder) -> bool` and a
`parse(folder, options) -> SceneData`, plus one entry in FORMATS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from latent_atlas.data.formats.blender import is_blender, parse_blender, parse_dnerf
from latent_atlas.data.formats.dtu import is_dtu, parse_dtu
from latent_atlas.data.formats.nerfstudio import parse_nerfstudio
from latent_atlas.data.formats.srn import is_srn, parse_srn
from latent_atlas.data.scene import SceneData


@dataclass(frozen=True)
class ParseOptions:
    """Options every parser receives (each uses those that apply to it)."""

    auto_scale_poses: bool = False
    """Centre poses on their focus point and scale them into the unit box (nerfstudio, opencv)."""


@dataclass(frozen=True)
class DataFormat:
    """One layout: how to recognise a folder in it and how to read it."""

    detect: Callable[[Path], bool]
    parse: Callable[[Path, ParseOptions], SceneData]
    description: str


FORMATS: dict[str, DataFormat] = {
    "blender": DataFormat(
        is_blender, lambda folder, o: parse_blender(folder), "NeRF-Synthetic transforms_{train,val,test}.json (per-frame `time` makes it a dynamic scene)"
    ),
    "dnerf": DataFormat(is_blender, lambda folder, o: parse_dnerf(folder), "D-NeRF: the Blender layout with a `time` in [0, 1] on every frame"),
    "nerfstudio": DataFormat(
        lambda folder: (folder / "transforms.json").is_file(),
        lambda folder, o: parse_nerfstudio(folder, "transforms.json", auto_scale_poses=o.auto_scale_poses),
        "nerfstudio transforms.json (OpenGL axes)",
    ),
    "opencv": DataFormat(
        lambda folder: (folder / "transforms_opencv.json").is_file(),
        lambda folder, o: parse_nerfstudio(folder, "transforms_opencv.json", opencv_axes=True, auto_scale_poses=o.auto_scale_poses),
        "transforms_opencv.json: nerfstudio keys, OpenCV axes",
    ),
    "srn": DataFormat(is_srn, lambda folder, o: parse_srn(folder), "ShapeNet-SRN rgb/ + pose/ + intrinsics.txt"),
    "dtu": DataFormat(is_dtu, lambda folder, o: parse_dtu(folder), "DTU (IDR/NeuS): image/ + mask/ + cameras.npz world_mat/scale_mat"),
}
"""Formats in detection order."""

FormatName = Literal["auto", "blender", "dnerf", "nerfstudio", "opencv", "srn", "dtu"]
"""--data-format choices (auto: the first format whose detect() accepts the folder)."""
