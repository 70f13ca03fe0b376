"""Camera paths for videos: an orbit, a spiral, a path through the training cameras, or a nerfstudio
camera_path.json. Each returns Cameras of n frames with the intrinsics of a reference camera (pure functions)."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor

from latent_atlas.cameras import Cameras, look_at
from latent_atlas.data.json_io import read_json, require
from latent_atlas.data.validation import check_pose, positive_number
from latent_atlas.errors import DataError


def _with_intrinsics(poses: Tensor, reference: Cameras) -> Cameras:
    """Cameras with poses [N, 4, 4] and the intrinsics and size of reference camera 0."""
    n = poses.shape[0]
    return Cameras(
        poses,
        reference.fx[:1].expand(n),
        reference.fy[:1].expand(n),
        reference.cx[:1].expand(n),
        reference.cy[:1].expand(n),
        reference.width[:1].expand(n),
        reference.height[:1].expand(n),
    )


def _orbit_frame(cameras: Cameras) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """(up [3], e1 [3], e2 [3], height, ring radius) of the circle the training cameras lie near."""
    c2w = cameras.camera_to_worlds
    positions = c2w[:, :3, 3]
    up = c2w[:, :3, 1].mean(0)
    up = up / up.norm()
    radius = positions.norm(dim=-1).mean()
    height = (positions @ up).mean()
    ring = torch.sqrt((radius**2 - height**2).clamp_min(1e-6))
    helper = torch.tensor([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else torch.tensor([0.0, 1.0, 0.0])
    e1 = torch.linalg.cross(up, helper)
    e1 = e1 / e1.norm()
    e2 = torch.linalg.cross(up, e1)
    return up, e1, e2, height, ring


def orbit_path(cameras: Cameras, n_frames: int) -> Cameras:
    """n_frames cameras circling the origin at the training cameras' mean distance and elevation, about
    their mean 'up' vector."""
    up, e1, e2, height, ring = _orbit_frame(cameras)
    angles = torch.arange(n_frames) * (2 * math.pi / n_frames)
    positions = height * up + ring * (torch.cos(angles)[:, None] * e1 + torch.sin(angles)[:, None] * e2)
    return _with_intrinsics(look_at(positions, torch.zeros(3), up), cameras)


def spiral_path(cameras: Cameras, n_frames: int, rotations: float = 2.0, wobble: float = 0.35) -> Cameras:
    """Like orbit_path, turning `rotations` times while the elevation rises and falls by `wobble` of the
    ring radius and the distance breathes by 10%."""
    up, e1, e2, height, ring = _orbit_frame(cameras)
    t = torch.arange(n_frames) / n_frames
    angles = 2 * math.pi * rotations * t
    scale = 1.0 + 0.1 * torch.cos(2 * math.pi * t)
    heights = height + wobble * ring * torch.sin(2 * math.pi * t)
    positions = heights[:, None] * up + (ring * scale)[:, None] * (torch.cos(angles)[:, None] * e1 + torch.sin(angles)[:, None] * e2)
    return _with_intrinsics(look_at(positions, torch.zeros(3), up), cameras)


def _slerp(q0: Tensor, q1: Tensor, t: float) -> Tensor:
    """Spherical interpolation of unit quaternions [4] (w, x, y, z)."""
    dot = float((q0 * q1).sum())
    if dot < 0:
        q1, dot = -q1, -dot
    if dot > 0.9995:
        q = q0 + t * (q1 - q0)
        return q / q.norm()
    theta = math.acos(dot)
    return (math.sin((1 - t) * theta) * q0 + math.sin(t * theta) * q1) / math.sin(theta)


def rotation_to_quaternion(r: Tensor) -> Tensor:
    """Rotation matrix [3, 3] -> unit quaternion [4] (w, x, y, z)."""
    r = r.double()
    trace = float(r.trace())
    if trace > 0:
        s = math.sqrt(trace + 1.0) * 2
        q = [0.25 * s, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s]
    elif r[0, 0] > r[1, 1] and r[0, 0] > r[2, 2]:
        s = math.sqrt(1.0 + r[0, 0] - r[1, 1] - r[2, 2]) * 2
        q = [(r[2, 1] - r[1, 2]) / s, 0.25 * s, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s]
    elif r[1, 1] > r[2, 2]:
        s = math.sqrt(1.0 + r[1, 1] - r[0, 0] - r[2, 2]) * 2
        q = [(r[0, 2] - r[2, 0]) / s, (r[0, 1] + r[1, 0]) / s, 0.25 * s, (r[1, 2] + r[2, 1]) / s]
    else:
        s = math.sqrt(1.0 + r[2, 2] - r[0, 0] - r[1, 1]) * 2
        q = [(r[1, 0] - r[0, 1]) / s, (r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, 0.25 * s]
    q = torch.tensor([float(v) for v in q], dtype=torch.float64)
    return q / q.norm()


def quaternion_to_rotation(q: Tensor) -> Tensor:
    """Unit quaternion [4] (w, x, y, z) -> rotation matrix [3, 3]."""
    w, x, y, z = (float(v) for v in q)
    return torch.tensor(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ],
        dtype=torch.float64,
    )


def interpolate_path(cameras: Cameras, n_frames: int, keyframes: int = 8) -> Cameras:
    """n_frames cameras gliding through `keyframes` training cameras (evenly chosen, in order, back to the
    first): positions linearly, rotations by quaternion slerp."""
    count = len(cameras)
    chosen = sorted({round(i * count / keyframes) % count for i in range(min(keyframes, count))})
    keys = cameras.camera_to_worlds[chosen].double()
    quats = [rotation_to_quaternion(k[:3, :3]) for k in keys]
    poses = torch.zeros(n_frames, 4, 4, dtype=torch.float64)
    for i in range(n_frames):
        u = i * len(chosen) / n_frames
        a, t = int(u), u - int(u)
        b = (a + 1) % len(chosen)
        poses[i, :3, :3] = quaternion_to_rotation(_slerp(quats[a], quats[b], t))
        poses[i, :3, 3] = (1 - t) * keys[a, :3, 3] + t * keys[b, :3, 3]
        poses[i, 3, 3] = 1.0
    return _with_intrinsics(poses.float(), cameras)


def nerfstudio_camera_path(path: Path, reference: Cameras) -> tuple[Cameras, float | None]:
    """(cameras, fps) of a nerfstudio camera_path.json: per keyframe 'camera_to_world' (16 numbers, row-major,
    OpenGL axes, in this scene's coordinates) and 'fov' (vertical, degrees); the image size is the file's
    render_width x render_height, else the reference camera's."""
    meta = read_json(path)
    frames = require(meta, "camera_path", path)
    if not isinstance(frames, list) or not frames:
        raise DataError(path, "'camera_path' must be a non-empty list")
    height = int(positive_number(meta.get("render_height", int(reference.height[0])), path, "render_height"))
    width = int(positive_number(meta.get("render_width", int(reference.width[0])), path, "render_width"))
    poses, focals = [], []
    for i, frame in enumerate(frames):
        where = f"camera_path[{i}]"
        values = require(frame, "camera_to_world", path, f" in {where}")
        try:
            matrix = torch.tensor(values, dtype=torch.float64).reshape(4, 4)
        except (TypeError, ValueError, RuntimeError):
            raise DataError(path, f"{where}: camera_to_world must be 16 numbers") from None
        poses.append(check_pose(matrix, path, where))
        fov = positive_number(frame.get("fov", 50.0), path, "fov", where)
        if fov >= 180:
            raise DataError(path, f"{where}: fov {fov:g} must be below 180 degrees")
        focals.append(0.5 * height / math.tan(math.radians(fov) / 2))
    n = len(poses)
    fps = meta.get("fps")
    cameras = Cameras(
        torch.stack(poses),
        torch.tensor(focals),
        torch.tensor(focals),
        torch.full((n,), width / 2.0),
        torch.full((n,), height / 2.0),
        torch.full((n,), width),
        torch.full((n,), height),
    )
    return cameras, float(fps) if isinstance(fps, (int, float)) and fps > 0 else None


def save_nerfstudio_camera_path(path: Path, cameras: Cameras, fps: float) -> None:
    """Writes `cameras` as a nerfstudio camera_path.json (what nerfstudio_camera_path reads back)."""
    import json

    frames = [
        {
            "camera_to_world": cameras.camera_to_worlds[i].reshape(-1).tolist(),
            "fov": math.degrees(2 * math.atan(0.5 * float(cameras.height[i]) / float(cameras.fy[i]))),
            "aspect": float(cameras.width[i]) / float(cameras.height[i]),
        }
        for i in range(len(cameras))
    ]
    data = {
        "camera_type": "perspective",
        "render_height": int(cameras.height[0]),
        "render_width": int(cameras.width[0]),
        "camera_path": frames,
        "fps": fps,
        "seconds": len(cameras) / fps,
    }
    path.write_text(json.dumps(data, indent=1))
