"""Reading and writing image files with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from latent_atlas.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".PNG", ".JPG", ".JPEG", ".exr", ".webp")


def resolve_image_path(path: Path) -> Path:
    """The file `path`, or `path` + a known image extension when it has none (NeRF-Synthetic style)."""
    if path.is_file():
        return path
    for ext in IMAGE_EXTENSIONS:
        candidate = path.with_name(path.name + ext)
        if candidate.is_file():
            return candidate
    raise DataError(path, "image file not found")


def _grey_to_rgba(values: np.ndarray, full_scale: float) -> np.ndarray:
    """A one-channel image [H, W] whose white is `full_scale` -> RGBA uint8 [H, W, 4] (scaled, not clipped)."""
    grey = np.clip(values.astype(np.float64) * (255.0 / full_scale) + 0.5, 0, 255).astype(np.uint8)
    return np.concatenate([np.repeat(grey[..., None], 3, axis=-1), np.full_like(grey[..., None], 255)], axis=-1)


def read_rgba(path: Path) -> Tensor:
    """Reads an image as RGBA uint8 [H, W, 4]; images without alpha get alpha 255.

    Palette, greyscale and 16-bit images are converted by value: a 16-bit greyscale PNG is scaled by
    255/65535 (PIL's own conversion would clip it to 0/255), a float image is taken as [0, 1].
    """
    try:
        with Image.open(path) as img:
            if img.mode.startswith("I;16") or img.mode == "I":
                array = _grey_to_rgba(np.asarray(img), 65535.0)
            elif img.mode == "F":
                array = _grey_to_rgba(np.nan_to_num(np.asarray(img)), 1.0)
            else:
                array = np.asarray(img.convert("RGBA"), dtype=np.uint8).copy()
    except FileNotFoundError:
        raise DataError(path, "image file not found") from None
    except Image.DecompressionBombError as exc:
        raise DataError(path, f"image too large to read ({str(exc).split(' pixels')[0]} pixels)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, MemoryError) as exc:
        raise DataError(path, f"cannot read image ({exc.__class__.__name__})") from None
    if array.ndim != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise DataError(path, "image is empty")
    return torch.from_numpy(array)


def stack_same_size(images: list[Tensor], paths: list[Path]) -> Tensor:
    """Stacks [H, W, 4] images into [N, H, W, 4], raising DataError at the first differing size."""
    if not images:
        raise DataError(paths[0].parent if paths else Path("."), "no images")
    h, w = images[0].shape[:2]
    for image, path in zip(images, paths):
        if image.shape[:2] != (h, w):
            raise DataError(path, f"image is {image.shape[1]}x{image.shape[0]} but {paths[0].name} is {w}x{h} (mixed sizes)")
    return torch.stack(images)


def to_uint8(image: Tensor) -> np.ndarray:
    """Float image [H, W, C] in [0, 1] -> uint8 numpy array."""
    return (image.detach().clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).cpu().numpy()


def write_png(path: Path, image: Tensor) -> None:
    """Writes a float image [H, W, 3 or 4] in [0, 1] as PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    array = to_uint8(image)
    Image.fromarray(array, mode="RGBA" if array.shape[-1] == 4 else "RGB").save(path)
