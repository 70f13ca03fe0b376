"""Writing frames as MP4 (imageio-ffmpeg, whose wheel ships an ffmpeg binary), GIF (Pillow) or PNG files,
and turning render outputs (depth, accumulation, latent channels) into viewable RGB frames."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from latent_atlas.errors import ConfigError
from latent_atlas.spaces.dashboard import colour_map

VideoFormat = Literal["mp4", "gif", "png"]


def depth_image(depth: Tensor, acc: Tensor, near: float, far: float) -> Tensor:
    """Expected depth [H, W, 1] -> RGB [H, W, 3]: near yellow, far blue, empty pixels black."""
    normalised = 1.0 - (depth / acc.clamp_min(1e-6) - near) / max(far - near, 1e-6)
    return colour_map(normalised) * acc.clamp(0, 1)


def normal_image(normals: Tensor, acc: Tensor) -> Tensor:
    """Rendered normals [H, W, 3] (weighted sums of unit normals) -> RGB [H, W, 3]: (n + 1) / 2 over white."""
    unit = normals / normals.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    alpha = acc.clamp(0, 1)
    return alpha * (unit + 1.0) / 2.0 + (1.0 - alpha)


def latent_image(latent: Tensor) -> Tensor:
    """The first three channels of normalised latents [H, W, C] as RGB [H, W, 3] (0 -> grey, +-2 -> the ends)."""
    channels = latent[..., :3]
    if channels.shape[-1] < 3:
        channels = torch.cat([channels, channels[..., :1].expand(*channels.shape[:-1], 3 - channels.shape[-1])], dim=-1)
    return (0.5 + 0.25 * channels).clamp(0, 1)


def _even(frame: np.ndarray) -> np.ndarray:
    """Pads a uint8 frame [H, W, 3] to even sides (H.264 in yuv420p needs them)."""
    h, w = frame.shape[:2]
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def write_frames(frames: list[np.ndarray], output: Path, fmt: VideoFormat, fps: float) -> Path:
    """Writes uint8 frames [H, W, 3] as an MP4 or GIF file `output`, or as output/frame_XXXX.png; returns what
    it wrote (the file, or the folder). Without imageio-ffmpeg an MP4 falls back to a GIF, with a warning."""
    if fmt == "mp4":
        try:
            import imageio_ffmpeg
        except ImportError:
            print("latlas: warning: imageio-ffmpeg is not installed (pip install imageio-ffmpeg); writing a GIF instead", file=sys.stderr)
            return write_frames(frames, output.with_suffix(".gif"), "gif", fps)
        output.parent.mkdir(parents=True, exist_ok=True)
        first = _even(frames[0])
        writer = imageio_ffmpeg.write_frames(str(output), (first.shape[1], first.shape[0]), fps=fps, codec="libx264", quality=8, macro_block_size=1)
        writer.send(None)
        for frame in frames:
            writer.send(np.ascontiguousarray(_even(frame)))
        writer.close()
        return output
    if fmt == "gif":
        output.parent.mkdir(parents=True, exist_ok=True)
        images = [Image.fromarray(f) for f in frames]
        images[0].save(output, save_all=True, append_images=images[1:], duration=max(1, int(1000 / fps)), loop=0)
        return output
    if fmt == "png":
        output.mkdir(parents=True, exist_ok=True)
        for i, frame in enumerate(frames):
            Image.fromarray(frame).save(output / f"frame_{i:04d}.png")
        return output
    raise ConfigError(f"--format {fmt}: choose mp4, gif or png")


def read_video(path: Path) -> tuple[list[np.ndarray], float]:
    """(frames [H, W, 3] uint8, fps) of an MP4 (for tests and checks)."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = reader.__next__()
    w, h = meta["size"]
    frames = [np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3) for raw in reader]
    return frames, float(meta["fps"])
