"""`latlas render`: a video of a trained run along a camera path (orbit, spiral, through the training cameras,
or a nerfstudio camera_path.json), with any of its outputs side by side: decoded RGB, depth, accumulation and,
in a latent space, the latent channels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import torch

from latent_atlas.cameras import Cameras
from latent_atlas.data.images import to_uint8
from latent_atlas.engine.config import Device
from latent_atlas.errors import ConfigError
from latent_atlas.evaluation.camera_paths import interpolate_path, nerfstudio_camera_path, orbit_path, save_nerfstudio_camera_path, spiral_path
from latent_atlas.evaluation.loading import TrainedRun, load_trained_run
from latent_atlas.evaluation.video import VideoFormat, depth_image, latent_image, normal_image, write_frames
from latent_atlas.spaces.dashboard import upscale

RenderOutput = Literal["rgb", "depth", "accumulation", "latent", "normals"]

PATHS = {"orbit": orbit_path, "spiral": spiral_path, "interpolate": interpolate_path}
"""Built-in camera paths: name -> (training cameras, n frames) -> Cameras."""


@dataclass
class RenderConfig:
    """`latlas render`: a video of a trained run along a camera path."""

    run: Path
    """Run folder (one scene or many)."""
    scene: Optional[str] = None
    """Many-scene runs: which scene (index or folder name; default: the first)."""
    path: str = "orbit"
    """Camera path: orbit, spiral, interpolate (through the training cameras) or a nerfstudio camera_path.json
    (camera_to_world in this scene's coordinates, OpenGL axes)."""
    outputs: tuple[RenderOutput, ...] = ("rgb",)
    """What to show, side by side: rgb (decoded in a latent space), depth, accumulation, latent (first 3 channels),
    normals (world-space, (n + 1) / 2 as colour, on white)."""
    format: VideoFormat = "mp4"
    """mp4 (imageio-ffmpeg; a GIF when it is not installed), gif, or png (a folder of frames)."""
    seconds: float = 3.0
    """Length of the video (frames = seconds x fps, unless --frames is given)."""
    fps: int = 20
    """Frame rate."""
    frames: Optional[int] = None
    """Number of frames (default: seconds x fps; a camera_path.json gives one frame per keyframe)."""
    resolution: Optional[int] = None
    """Height of the RGB frames in pixels (default: the training images'); width follows the aspect ratio."""
    output: Optional[Path] = None
    """Output file (mp4/gif) or folder (png); default RUN/render/<path>.<format>."""
    save_path: Optional[Path] = None
    """Also write the cameras as a nerfstudio camera_path.json (to edit, or to render again)."""
    over_time: bool = False
    """Dynamic scenes: keep the path's first camera still while time sweeps from 0 to 1."""
    time: Optional[float] = None
    """Dynamic scenes: render every frame at this time in [0, 1] (default: time advances from 0 to 1 along the
    path, so an orbit turns while the scene moves)."""
    device: Device = "auto"
    """cpu, cuda or auto."""


def path_cameras(cfg: RenderConfig, train_cameras: Cameras, downscale: int) -> tuple[Cameras, float]:
    """(cameras at the run's rendering resolution, fps) of cfg.path."""
    n_frames = cfg.frames or max(1, round(cfg.seconds * cfg.fps))
    if cfg.path in PATHS:
        cameras, fps = PATHS[cfg.path](train_cameras, n_frames), float(cfg.fps)
    elif cfg.path.endswith(".json"):
        cameras, file_fps = nerfstudio_camera_path(Path(cfg.path), train_cameras.rescale(downscale))
        cameras, fps = cameras.rescale(1.0 / downscale) if downscale > 1 else cameras, file_fps or float(cfg.fps)
    else:
        raise ConfigError(f"--path {cfg.path}: choose {', '.join(PATHS)} or a camera_path.json file")
    if cfg.resolution is not None:
        render_height = cfg.resolution / downscale
        if render_height != int(render_height):
            raise ConfigError(f"--resolution {cfg.resolution}: must be a multiple of the autoencoder's factor {downscale}")
        try:
            cameras = cameras.rescale(render_height / int(cameras.height[0]))
        except ValueError as exc:
            raise ConfigError(f"--resolution {cfg.resolution}: {exc}") from None
    return cameras, fps


def frame_times(cfg: RenderConfig, n_frames: int) -> list[float]:
    """The time of each frame of a dynamic scene's video: fixed (--time) or advancing from 0 to 1."""
    if cfg.time is not None:
        if not 0.0 <= cfg.time <= 1.0:
            raise ConfigError(f"--time {cfg.time}: must lie in [0, 1]")
        return [cfg.time] * n_frames
    return [i / max(n_frames - 1, 1) for i in range(n_frames)]


def frame_panels(
    run: TrainedRun, scene: int, cameras: Cameras, index: int, outputs: tuple[str, ...], near: float, far: float, metadata: dict | None = None
) -> torch.Tensor:
    """The requested outputs of one camera, side by side: RGB [H, W * len(outputs), 3] in [0, 1]; metadata: the
    frame's values, e.g. {'time': [1]}."""
    out = run.render(scene, cameras, index, metadata)
    with torch.no_grad():
        rgb = run.space.decode(out["color"][None])[0].cpu().clamp(0, 1)
    height = rgb.shape[0]
    panels = []
    for name in outputs:
        if name == "rgb":
            panels.append(rgb)
        elif name == "depth":
            panels.append(upscale(depth_image(out["depth"].cpu(), out["acc"].cpu(), near, far), height))
        elif name == "accumulation":
            panels.append(upscale(out["acc"].cpu().clamp(0, 1).expand(*out["acc"].shape[:2], 3), height))
        elif name == "latent":
            panels.append(upscale(latent_image(out["color"].cpu()), height))
        elif name == "normals":
            if "normals" not in out:
                raise ConfigError("--outputs normals: this method renders no normals (volsdf, vanilla-nerf, tiny-nerf, nerf-ae and dnerf do)")
            panels.append(upscale(normal_image(out["normals"].cpu(), out["acc"].cpu()), height))
    return torch.cat(panels, dim=1)


def render_video(cfg: RenderConfig) -> Path:
    """Renders cfg.path and writes the video (or frames); returns what it wrote."""
    run = load_trained_run(cfg.run, cfg.device)
    if "latent" in cfg.outputs and run.space.colour_values:
        raise ConfigError("--outputs latent: this run learns in RGB (it has no latent channels)")
    scene = run.scene_index(cfg.scene)
    cameras, fps = path_cameras(cfg, run.scenes[scene].split("train").cameras, run.space.downscale)
    dynamic = getattr(run.config, "method", None) is not None and run.config.method.model.uses_time
    if (cfg.over_time or cfg.time is not None) and not dynamic:
        raise ConfigError("--over-time/--time: this run's method is static (dnerf and kplanes-dynamic learn time)")
    if cfg.over_time:
        cameras = cameras[[0] * len(cameras)]
    if "normals" in cfg.outputs and run.model is not None:
        run.model.render_normals = True
    times = frame_times(cfg, len(cameras)) if dynamic else None
    distances = cameras.camera_to_worlds[:, :3, 3].norm(dim=-1)
    near, far = max(float(distances.min()) - 3**0.5, 0.0), float(distances.max()) + 3**0.5  # the scene box [-1, 1]^3
    frames = []
    for i in range(len(cameras)):
        metadata = None if times is None else {"time": torch.tensor([times[i]])}
        frames.append(to_uint8(frame_panels(run, scene, cameras, i, cfg.outputs, near, far, metadata)))
    name = (Path(cfg.path).stem if cfg.path.endswith(".json") else cfg.path) + ("_over_time" if cfg.over_time else "")
    folder = run.run_dir / "render" / (run.names[scene] if len(run.scenes) > 1 else "")
    output = cfg.output or (folder / name if cfg.format == "png" else folder / f"{name}.{cfg.format}")
    if cfg.save_path is not None:
        save_nerfstudio_camera_path(cfg.save_path, cameras.rescale(run.space.downscale), fps)
    return write_frames(frames, output, cfg.format, fps)
