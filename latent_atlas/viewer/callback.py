"""`latlas train ... --viewer`: the viewer as an engine callback, showing the model as it trains."""

from __future__ import annotations

import torch

from latent_atlas.engine.callbacks import Callback
from latent_atlas.viewer.server import Viewer, ViewerOptions


class ViewerCallback(Callback):
    """Starts the viewer when training starts, shows steps, loss and PSNR, and closes it at the end."""

    def __init__(self, port: int = 7007, share: float = 0.3, host: str = "127.0.0.1"):
        self.options = ViewerOptions(host=host, port=port, share=share)
        self.viewer: Viewer | None = None

    def on_start(self, task) -> None:
        scenes = task.view_scenes()
        self.options.still_height = int(scenes[0][1].height[0]) * task.space.downscale
        self.options.moving_height = min(self.options.moving_height, self.options.still_height)
        renderer = task.view_renderer()
        self.options.dynamic = task.view_dynamic()

        def render(scene: int, camera, metadata=None):
            with torch.no_grad():
                return renderer(scene, camera, metadata)

        self.viewer = Viewer(render, task.space, scenes, self.options, title=f"latent-atlas: training {task.run_dir.name}")
        print(f"viewer: {self.viewer.url}", flush=True)

    def on_step(self, task, scalars: dict[str, float]) -> None:
        if self.viewer is not None and (task.step % 10 == 0 or task.step == 1):
            parts = [f"step **{task.step}** / {task.total_steps}"] + [f"{k} {scalars[k]:.4g}" for k in ("loss", "psnr") if k in scalars]
            self.viewer.set_stats(", ".join(parts))

    def on_end(self, task, summary) -> None:
        if self.viewer is not None:
            self.viewer.close()
            self.viewer = None
