"""Conversions between viser's cameras (OpenCV axes: +z forward, +y down; rotation as wxyz) and ours
(OpenGL camera-to-world, pinhole intrinsics). Pure functions."""

from __future__ import annotations

import math

import numpy as np
import torch

from latent_atlas.cameras import Cameras
from latent_atlas.evaluation.camera_paths import quaternion_to_rotation, rotation_to_quaternion

OPENCV_FROM_OPENGL = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))
"""Flips y and z: an OpenGL camera's axes as OpenCV's (and back: it is its own inverse)."""


def viewer_camera(wxyz, position, fov: float, aspect: float, height: int) -> Cameras:
    """One camera [1] from a viser camera: rotation `wxyz` and `position` (world), vertical `fov` in radians,
    `aspect` = width / height, rendered `height` pixels high."""
    rotation = quaternion_to_rotation(torch.as_tensor(np.asarray(wxyz), dtype=torch.float64)) @ OPENCV_FROM_OPENGL
    c2w = torch.eye(4, dtype=torch.float64)
    c2w[:3, :3] = rotation
    c2w[:3, 3] = torch.as_tensor(np.asarray(position), dtype=torch.float64)
    width = max(1, round(height * aspect))
    focal = 0.5 * height / math.tan(0.5 * fov)
    return Cameras(
        c2w[None].float(),
        torch.tensor([focal]),
        torch.tensor([focal]),
        torch.tensor([width / 2.0]),
        torch.tensor([height / 2.0]),
        torch.tensor([width]),
        torch.tensor([height]),
    )


def frustum_pose(c2w: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(wxyz [4], position [3]) of an OpenGL camera-to-world [4, 4] in viser's OpenCV convention."""
    rotation = c2w[:3, :3].double() @ OPENCV_FROM_OPENGL
    return rotation_to_quaternion(rotation).numpy(), c2w[:3, 3].double().numpy()


def vertical_fov(cameras: Cameras, index: int = 0) -> float:
    """Vertical field of view of camera `index`, in radians."""
    return 2.0 * math.atan(0.5 * float(cameras.height[index]) / float(cameras.fy[index]))
