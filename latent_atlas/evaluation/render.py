"""`latlas render`: images and a GIF along an orbit around the scene."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from PIL import Image

from latent_atlas.cameras import Cameras, look_at
from latent_atlas.data.images import to_uint8, write_png
from latent_atlas.engine.config import Device
from latent_atlas.evaluation.loading import load_trained_run


@dataclass
class RenderConfig:
    """`latlas render`: an orbit video of a trained run."""

    run: Path
    """Run folder (one scene or many)."""
    scene: Optional[str] = None
    """Many-scene runs: which scene (index or folder name; default: the first)."""
    frames: int = 60
    """Frames in the orbit."""
    output: Optional[Path] = None
    """Output folder (default: RUN/render)."""
    fps: int = 20
    """GIF frame rate."""
    device: Device = "auto"
    """cpu, cuda or auto."""


def orbit_cameras(cameras: Cameras, n_frames: int) -> Cameras:
    """n_frames cameras circling the origin at the training cameras' mean distance and elevation.

    The orbit's axis is the mean 'up' vector of the training cameras.
    """
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
    angles = torch.arange(n_frames) * (2 * math.pi / n_frames)
    pos = height * up + ring * (torch.cos(angles)[:, None] * e1 + torch.sin(angles)[:, None] * e2)
    poses = look_at(pos, torch.zeros(3), up)
    return Cameras(
        poses,
        cameras.fx[:1].expand(n_frames),
        cameras.fy[:1].expand(n_frames),
        cameras.cx[:1].expand(n_frames),
        cameras.cy[:1].expand(n_frames),
        cameras.width[:1].expand(n_frames),
        cameras.height[:1].expand(n_frames),
    )


def render_orbit(cfg: RenderConfig) -> Path:
    """Writes frame_XXXX.png and orbit.gif; returns the GIF path."""
    run = load_trained_run(cfg.run, cfg.device)
    scene = run.scene_index(cfg.scene)
    out_dir = cfg.output or (run.run_dir / "render" / (run.names[scene] if len(run.scenes) > 1 else ""))
    cams = orbit_cameras(run.scenes[scene].split("train").cameras, cfg.frames)
    frames = []
    for i in range(cfg.frames):
        image = run.render(scene, cams, i)["color"]
        with torch.no_grad():
            image = run.space.decode(image[None])[0].cpu()  # RGB: identity
        write_png(out_dir / f"frame_{i:04d}.png", image)
        frames.append(Image.fromarray(to_uint8(image)))
    gif = out_dir / "orbit.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=int(1000 / cfg.fps), loop=0)
    return gif
