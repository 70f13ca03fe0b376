"""JSON reading with errors that name the file and the problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from latent_atlas.data.validation import check_pose
from latent_atlas.errors import DataError


def read_json(path: Path) -> Any:
    """Parses a JSON file; a missing or malformed file raises DataError."""
    if not path.is_file():
        raise DataError(path, "file not found")
    try:
        return json.loads(path.read_text(), parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise DataError(path, f"malformed JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except UnicodeDecodeError:
        raise DataError(path, "not a text file") from None
    except RecursionError:
        raise DataError(path, "malformed JSON (nested too deep)") from None
    except ValueError as exc:  # a NaN or Infinity literal
        raise DataError(path, str(exc)) from None
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc.strerror or exc.__class__.__name__})") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"JSON holds the literal {name}, not a finite number")


def require(mapping: dict, key: str, path: Path, where: str = "") -> Any:
    """mapping[key], or DataError naming the missing key."""
    if not isinstance(mapping, dict) or key not in mapping:
        raise DataError(path, f"missing key '{key}'{where}")
    return mapping[key]


def pose_matrix(value: Any, path: Path, where: str) -> Tensor:
    """A 4x4 (or 3x4, completed) camera-to-world matrix from nested lists that is a rigid motion, else DataError."""
    try:
        matrix = torch.tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        raise DataError(path, f"{where}: transform_matrix is not a numeric matrix") from None
    if matrix.shape == (3, 4):
        matrix = torch.cat([matrix, torch.tensor([[0.0, 0.0, 0.0, 1.0]], dtype=torch.float64)])
    if matrix.shape != (4, 4):
        raise DataError(path, f"{where}: transform_matrix must be 4x4, got shape {list(matrix.shape)}")
    return check_pose(matrix, path, where)
