"""`latlas view --run RUN`: the viewer on a saved run (one scene or many), until Ctrl-C."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from latent_atlas.engine.config import Device
from latent_atlas.evaluation.loading import load_trained_run
from latent_atlas.viewer.server import Viewer, ViewerOptions


@dataclass
class ViewConfig:
    """`latlas view`: look at a trained run in the browser."""

    run: Path
    """Run folder (one scene or many)."""
    port: int = 7007
    """Port of the web page (http://HOST:PORT)."""
    host: str = "127.0.0.1"
    """Address to serve on (0.0.0.0 to reach it from another machine)."""
    still_height: Optional[int] = None
    """Height of the full-resolution frame (default: the training images')."""
    moving_height: int = 64
    """Height of the frames rendered while the camera moves."""
    share: float = 1.0
    """Largest fraction of the time spent rendering."""
    record: Optional[Path] = None
    """Write each full-resolution frame and its camera (a nerfstudio camera_path.json) to this folder."""
    seconds: Optional[float] = None
    """Stop after this many seconds (default: run until Ctrl-C)."""
    device: Device = "auto"
    """cpu, cuda or auto."""


def _exit_quietly(signum, frame) -> None:
    raise SystemExit(0)


def view_run(cfg: ViewConfig) -> None:
    """Serves the viewer on cfg.run until Ctrl-C (or cfg.seconds)."""
    run = load_trained_run(cfg.run, cfg.device)
    scenes = [(name, scene.split("train").cameras) for name, scene in zip(run.names, run.scenes)]
    full_height = int(run.rgb_scenes[0].split("train").cameras.height[0])
    dynamic = run.model is not None and run.config.method.model.uses_time
    options = ViewerOptions(
        cfg.host, cfg.port, min(cfg.moving_height, cfg.still_height or full_height), cfg.still_height or full_height, cfg.share, cfg.record, dynamic
    )

    def render(scene: int, camera, metadata=None):
        with torch.no_grad():
            return run.render(scene, camera, 0, metadata)

    viewer = Viewer(render, run.space, scenes, options, title=f"latent-atlas: {run.run_dir.name}")
    method = getattr(run.config, "method_name", run.task)
    viewer.set_stats(f"**{method}** in {run.space.name} space, step {run.step} (`{run.checkpoint.name}`)")
    print(f"viewer: {viewer.url}  (Ctrl-C to stop)", flush=True)
    signal.signal(signal.SIGTERM, _exit_quietly)  # a terminated viewer still closes (and writes --record's stats)
    try:
        deadline = None if cfg.seconds is None else time.monotonic() + cfg.seconds
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        viewer.close()
