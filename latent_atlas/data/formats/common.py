"""Helpers shared by the format parsers: reading a list of frames into a SceneSplit."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from latent_atlas.cameras import Cameras
from latent_atlas.data.images import read_rgba, resolve_image_path, stack_same_size
from latent_atlas.data.scene import SceneSplit
from latent_atlas.data.validation import check_intrinsics, positive_number
from latent_atlas.errors import DataError


def build_split(
    image_paths: list[Path],
    camera_to_worlds: list[Tensor],
    intrinsics: list[tuple[float, float, float | None, float | None]],
    declared_sizes: list[tuple[int | None, int | None]] | None = None,
    source: Path | None = None,
    metadata: dict[str, Tensor] | None = None,
) -> SceneSplit:
    """Reads the images and assembles a SceneSplit.

    intrinsics: per frame (fx, fy, cx, cy); cx/cy None means the image centre.
    declared_sizes: per frame (w, h) stated by the metadata file `source`; a
    mismatch with the image file is an error (its intrinsics would be wrong), as are intrinsics that are not
    finite, positive focal lengths with the principal point inside the image.
    """
    paths = [resolve_image_path(p) for p in image_paths]
    images = stack_same_size([read_rgba(p) for p in paths], paths)
    n, h, w = images.shape[:3]
    for path, (dw, dh) in zip(paths, declared_sizes or []):
        dw, dh = (None if v is None else positive_number(v, source or path, k) for k, v in (("w", dw), ("h", dh)))
        dw, dh = (None if v is None else (int(v) if v == int(v) else v) for v in (dw, dh))
        if (dw is not None and dw != w) or (dh is not None and dh != h):
            raise DataError(path, f"image is {w}x{h} but {source.name if source else 'the metadata'} declares w={dw}, h={dh}")
    for i, (path, (fx, fy, cx, cy)) in enumerate(zip(paths, intrinsics)):
        check_intrinsics(fx, fy, w / 2.0 if cx is None else cx, h / 2.0 if cy is None else cy, w, h, source or path, f"frame {i} ({path.name})")
    fx = torch.tensor([k[0] for k in intrinsics], dtype=torch.float32)
    fy = torch.tensor([k[1] for k in intrinsics], dtype=torch.float32)
    cx = torch.tensor([w / 2.0 if k[2] is None else k[2] for k in intrinsics], dtype=torch.float32)
    cy = torch.tensor([h / 2.0 if k[3] is None else k[3] for k in intrinsics], dtype=torch.float32)
    cameras = Cameras(torch.stack(camera_to_worlds), fx, fy, cx, cy, torch.full((n,), w), torch.full((n,), h))
    return SceneSplit(images=images, cameras=cameras, image_paths=paths, metadata=metadata or {})


FRAME_METADATA = {"time": 1, "light_position": 3, "appearance_index": 1}
"""Per-frame keys that parsers carry into SceneSplit.metadata, with their sizes."""


def frame_metadata(frames: list[dict], path: Path) -> dict[str, Tensor]:
    """The FRAME_METADATA values of a split's frames: {name: [N, k]} (a key on some frames only is an error)."""
    found = {}
    for key, size in FRAME_METADATA.items():
        present = [key in frame for frame in frames]
        if not any(present):
            continue
        if not all(present):
            raise DataError(path, f"frame {present.index(False)} has no '{key}' while other frames have one")
        try:
            values = torch.tensor([frame[key] for frame in frames], dtype=torch.float32).reshape(len(frames), size)
        except (TypeError, ValueError, RuntimeError):
            raise DataError(path, f"'{key}' must be {'a number' if size == 1 else f'{size} numbers'} on every frame") from None
        if not torch.isfinite(values).all():
            raise DataError(path, f"'{key}' has a non-finite value")
        if key == "time" and (values.min() < 0 or values.max() > 1):
            raise DataError(path, f"'time' must lie in [0, 1] (found {values.min().item():g} to {values.max().item():g})")
        found[key] = values
    return found


def holdout_indices(n: int, every: int = 10) -> tuple[list[int], list[int]]:
    """Train and held-out frame indices when a format has no split: every `every`-th frame is held out."""
    held = [i for i in range(n) if i % every == 0] if n > 1 else []
    train = [i for i in range(n) if i not in set(held)]
    return train, held
