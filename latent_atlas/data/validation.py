"""What the data say, checked: camera poses are proper rigid motions, intrinsics are finite, positive and
inside the image, numbers are numbers. Every failure is a DataError naming the file, never a divergence later."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from latent_atlas.errors import DataError

ROTATION_TOLERANCE = 1e-2
"""Largest |R^T R - I| entry and |det R - 1| accepted (poses exported in float32 or rounded to 6 digits pass)."""

MAX_TRANSLATION = 1e6
"""Camera positions beyond this are treated as corrupt (float32 rays lose all precision there)."""


def finite_number(value: Any, path: Path, name: str, where: str = "") -> float:
    """`value` as a finite float (a JSON number, not a string, bool or null), else DataError."""
    place = f" in {where}" if where else ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(path, f"'{name}'{place} must be a number, got {type(value).__name__} {str(value)[:40]!r}")
    if not math.isfinite(value):
        raise DataError(path, f"'{name}'{place} is {value}, not a finite number")
    return float(value)


def positive_number(value: Any, path: Path, name: str, where: str = "") -> float:
    """`value` as a finite float > 0, else DataError."""
    number = finite_number(value, path, name, where)
    if number <= 0:
        raise DataError(path, f"'{name}'{' in ' + where if where else ''} must be positive, got {number:g}")
    return number


def field_of_view(value: Any, path: Path, name: str) -> float:
    """A camera angle in radians, in (0, pi), else DataError."""
    angle = finite_number(value, path, name)
    if not 0.0 < angle < math.pi:
        raise DataError(path, f"'{name}' must be an angle in radians between 0 and pi, got {angle:g}")
    return angle


def check_pose(matrix: Tensor, path: Path, where: str) -> Tensor:
    """A camera-to-world [4, 4] that is a rigid motion: finite, rotation orthonormal with det +1, bottom row
    [0, 0, 0, 1], translation below MAX_TRANSLATION. Returns it as float32; DataError otherwise."""
    m = matrix.double()
    if not torch.isfinite(m).all():
        raise DataError(path, f"{where}: pose has non-finite values")
    if (m[3] - torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64)).abs().max() > 1e-6:
        raise DataError(path, f"{where}: pose's bottom row is {[round(v, 4) for v in m[3].tolist()]}, not [0, 0, 0, 1]")
    rotation = m[:3, :3]
    orthonormal_error = (rotation.T @ rotation - torch.eye(3, dtype=torch.float64)).abs().max().item()
    det = torch.linalg.det(rotation).item()
    if orthonormal_error > ROTATION_TOLERANCE or abs(det - 1.0) > ROTATION_TOLERANCE:
        kind = "a reflection (det -1)" if abs(det + 1.0) < ROTATION_TOLERANCE else f"not a rotation (|R^T R - I| = {orthonormal_error:.3g}, det {det:.3g})"
        raise DataError(path, f"{where}: pose's 3x3 part is {kind}")
    if m[:3, 3].abs().max() > MAX_TRANSLATION:
        raise DataError(path, f"{where}: camera position {m[:3, 3].abs().max().item():.3g} is beyond {MAX_TRANSLATION:g} (corrupt pose?)")
    return matrix.float()


def check_intrinsics(fx: float, fy: float, cx: float, cy: float, width: int, height: int, path: Path, where: str) -> None:
    """Focal lengths finite and positive, principal point finite and inside the w x h image, else DataError."""
    for name, value in (("fx", fx), ("fy", fy), ("cx", cx), ("cy", cy)):
        if not math.isfinite(value):
            raise DataError(path, f"{where}: {name} is {value}, not a finite number")
    if fx <= 0 or fy <= 0:
        raise DataError(path, f"{where}: focal lengths must be positive (fx={fx:g}, fy={fy:g})")
    if not (0.0 <= cx <= width and 0.0 <= cy <= height):
        raise DataError(path, f"{where}: principal point ({cx:g}, {cy:g}) lies outside the {width}x{height} image")


def inside_folder(folder: Path, relative: Any, path: Path, where: str) -> Path:
    """folder / relative when `relative` is a string naming a file inside `folder`, else DataError."""
    if not isinstance(relative, str) or not relative:
        raise DataError(path, f"{where}: file path must be a non-empty string, got {str(relative)[:40]!r}")
    candidate = folder / relative
    lexical = Path(os.path.normpath(candidate))  # lexical, so that symlinked image folders stay allowed
    if Path(relative).is_absolute() or not lexical.is_relative_to(Path(os.path.normpath(folder))):
        raise DataError(path, f"{where}: '{relative}' points outside the folder {folder}")
    return candidate
