"""The live viewer: a viser web page with the training cameras as frustums and a render of the browser's camera
as the background, decoded live in a latent space. Moving renders a low-resolution frame at once; a still
camera gets the full-resolution one. Rendering takes at most `share` of the time (the trainer keeps the rest).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from latent_atlas.cameras import Cameras
from latent_atlas.data.images import to_uint8
from latent_atlas.errors import ConfigError
from latent_atlas.evaluation.camera_paths import save_nerfstudio_camera_path
from latent_atlas.evaluation.video import depth_image, latent_image
from latent_atlas.spaces.image_space import ImageSpace
from latent_atlas.viewer.camera import frustum_pose, vertical_fov, viewer_camera

SceneRenderer = Callable[[int, Cameras, dict | None], dict[str, Tensor]]
"""(scene index, one camera, frame metadata or None) -> {'color': [h, w, C] in the space, 'acc': [h, w, 1], 'depth':
[h, w, 1]}; metadata {'time': [1]} for dynamic scenes."""

STILL_AFTER = 0.25
"""Seconds without camera motion after which the full-resolution frame is rendered."""


@dataclass
class ViewerOptions:
    """How the viewer serves and renders."""

    host: str = "127.0.0.1"
    port: int = 7007
    moving_height: int = 64
    """RGB frame height while the camera moves."""
    still_height: int = 256
    """RGB frame height once the camera is still."""
    share: float = 0.5
    """Largest fraction of wall time spent rendering (the rest is left to training)."""
    record: Path | None = None
    """Write each full-resolution frame (PNG) and its camera (camera_path.json) here."""
    dynamic: bool = False
    """The model reads time: a 'time' slider in [0, 1] is shown and given to every render."""


@dataclass
class _ClientState:
    moved_at: float = 0.0
    rendered: tuple = ()
    """(camera key, height, output, scene, time) of the frame on screen."""
    recorded: tuple = ()
    """The same of the last frame written by --record."""
    last: tuple = ()
    """(frame, camera at RGB resolution) on screen."""
    frames: list = field(default_factory=list)
    """Cameras [1] of the frames written by --record."""


class Viewer:
    """A viser server showing `scenes` (each: name, training cameras) rendered by `render` in `space`."""

    def __init__(self, render: SceneRenderer, space: ImageSpace, scenes: list[tuple[str, Cameras]], options: ViewerOptions, title: str = "latent-atlas"):
        try:
            import viser
        except ImportError:
            raise ConfigError("the viewer needs viser: pip install 'latent-atlas[viewer]'") from None
        self.render_fn, self.space, self.scenes, self.options = render, space, scenes, options
        self.server = viser.ViserServer(host=options.host, port=options.port, label=title)
        self.clients: dict[int, _ClientState] = {}
        self.frames_rendered = 0
        self.render_seconds = 0.0
        self.latencies: list[tuple[str, float]] = []
        """(\"moving\" | \"still\", seconds from the camera update to the frame sent)."""
        outputs = ["rgb", "depth", "accumulation"]
        if not space.colour_values:
            outputs += ["latent 0-2", *[f"latent {c}" for c in range(space.channels)]]
        self.output = self.server.gui.add_dropdown("output", tuple(outputs), initial_value="rgb")
        names = [name for name, _ in scenes]
        self.scene = self.server.gui.add_dropdown("scene", tuple(names), initial_value=names[0], visible=len(names) > 1)
        self.time = self.server.gui.add_slider("time", min=0.0, max=1.0, step=0.01, initial_value=0.0, visible=options.dynamic)
        self.stats = self.server.gui.add_markdown("")
        self.scene.on_update(lambda _: self._show_frustums())
        self._show_frustums()
        self.server.on_client_connect(self._connect)
        self.server.on_client_disconnect(lambda client: self.clients.pop(client.client_id, None))
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="latlas-viewer", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.options.host}:{self.server.get_port()}"

    def _scene_index(self) -> int:
        return [name for name, _ in self.scenes].index(self.scene.value)

    def _show_frustums(self) -> None:
        cameras = self.scenes[self._scene_index()][1]
        aspect = float(cameras.width[0]) / float(cameras.height[0])
        scale = 0.08 * float(cameras.camera_to_worlds[:, :3, 3].norm(dim=-1).mean())
        for i in range(min(len(cameras), 200)):
            wxyz, position = frustum_pose(cameras.camera_to_worlds[i])
            self.server.scene.add_camera_frustum(
                f"/cameras/{i}", fov=vertical_fov(cameras, i), aspect=aspect, scale=scale, thickness=0.03 * scale, wxyz=wxyz, position=position
            )

    def _connect(self, client) -> None:
        cameras = self.scenes[self._scene_index()][1]
        c2w = cameras.camera_to_worlds[0]
        client.camera.up_direction = tuple(c2w[:3, 1].tolist())
        client.camera.position = tuple((1.3 * c2w[:3, 3]).tolist())  # behind the first training camera
        client.camera.look_at = (0.0, 0.0, 0.0)
        client.camera.fov = vertical_fov(cameras)
        state = _ClientState(moved_at=time.perf_counter())
        self.clients[client.client_id] = state
        client.camera.on_update(lambda _: setattr(state, "moved_at", time.perf_counter()))

    def set_stats(self, text: str) -> None:
        """Markdown shown in the panel (steps, loss, PSNR of a training run)."""
        self.stats.content = text

    def _frame(self, scene: int, camera: Cameras, output: str) -> np.ndarray:
        """One frame of `output` for `camera` (at the space's resolution): RGB uint8 [H, W, 3]."""
        metadata = {"time": torch.tensor([float(self.time.value)])} if self.options.dynamic else None
        out = self.render_fn(scene, camera, metadata)
        if output == "rgb":
            with torch.no_grad():
                image = self.space.decode(out["color"][None])[0]
        elif output == "depth":
            distance = float(camera.camera_to_worlds[0, :3, 3].norm())
            image = depth_image(out["depth"].cpu(), out["acc"].cpu(), max(distance - 3**0.5, 0.0), distance + 3**0.5)
        elif output == "accumulation":
            image = out["acc"].expand(*out["acc"].shape[:2], 3)
        elif output == "latent 0-2":
            image = latent_image(out["color"].cpu())
        else:
            image = latent_image(out["color"][..., int(output.split()[1]) : int(output.split()[1]) + 1].cpu())
        return to_uint8(image.cpu().clamp(0, 1))

    def _render_client(self, client, state: _ClientState) -> bool:
        """Renders what the client needs next (low while moving, full when still); False when nothing."""
        now = time.perf_counter()
        moving = now - state.moved_at < STILL_AFTER
        height = self.options.moving_height if moving else self.options.still_height
        cam = client.camera
        key = (tuple(np.round(np.asarray(cam.wxyz), 6)), tuple(np.round(np.asarray(cam.position), 6)), round(float(cam.fov), 6), round(float(cam.aspect), 4))
        wanted = (key, height, self.output.value, self.scene.value, float(self.time.value))
        if wanted == state.rendered:
            if not moving and self.options.record is not None and state.recorded != wanted and height == self.options.still_height:
                self._record(*state.last, state)  # the frame rendered while moving was already full-size
                state.recorded = wanted
            return False
        render_height = max(1, height // self.space.downscale)
        camera = viewer_camera(cam.wxyz, cam.position, float(cam.fov), float(cam.aspect), render_height)
        started = time.perf_counter()
        frame = self._frame(self._scene_index(), camera, self.output.value)
        client.scene.set_background_image(frame, format="jpeg", jpeg_quality=90)
        self.render_seconds += time.perf_counter() - started
        self.frames_rendered += 1
        self.latencies.append(("moving" if moving else "still", time.perf_counter() - state.moved_at))
        state.rendered, state.last = wanted, (frame, camera.rescale(self.space.downscale))
        if not moving and self.options.record is not None:
            self._record(*state.last, state)
            state.recorded = wanted
        return True

    def _record(self, frame: np.ndarray, camera: Cameras, state: _ClientState) -> None:
        """--record: the frame as PNG, and every recorded camera so far as a nerfstudio camera_path.json."""
        from PIL import Image

        folder = self.options.record
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(frame).save(folder / f"frame_{len(state.frames):04d}.png")
        state.frames.append(camera)
        save_nerfstudio_camera_path(folder / "camera_path.json", Cameras.cat(state.frames), fps=10.0)

    def _loop(self) -> None:
        while self._running:
            busy = 0.0
            for client in list(self.server.get_clients().values()):
                state = self.clients.get(client.client_id)
                if state is None:
                    continue
                started = time.perf_counter()
                try:
                    self._render_client(client, state)
                except Exception as exc:  # a frame lost (e.g. weights resized mid-render while training) is retried
                    self.set_stats(f"render failed: {type(exc).__name__}")
                    state.rendered = ()
                busy += time.perf_counter() - started
            pause = busy * (1.0 / max(self.options.share, 1e-3) - 1.0) if busy > 0 else 0.02
            time.sleep(min(max(pause, 0.005), 2.0))

    def close(self) -> None:
        """Stops rendering and serving; with --record, writes latency.json (frames, render time, latencies)."""
        self._running = False
        self._thread.join(timeout=5)
        self.server.stop()
        if self.options.record is not None:
            self.options.record.mkdir(parents=True, exist_ok=True)
            stats = {"frames": self.frames_rendered, "render_seconds": self.render_seconds, "latencies": self.latencies}
            (self.options.record / "latency.json").write_text(json.dumps(stats, indent=1))
