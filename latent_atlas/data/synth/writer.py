"""`latlas data synth`: renders a family of scenes into Blender and nerfstudio layouts (and, with --dtu, DTU's);
the dynamic family's frames carry a `time` (the D-NeRF layout)."""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from latent_atlas.cameras import Cameras, look_at
from latent_atlas.config_io import save_json_atomic
from latent_atlas.data.formats.dtu import write_dtu
from latent_atlas.data.images import write_png
from latent_atlas.data.json_io import read_json
from latent_atlas.data.synth.families import FAMILIES, Motion, SceneStyle, make_scene, posed, random_motion, scene_style
from latent_atlas.data.synth.raytrace import render_views
from latent_atlas.data.synth.sdf import PRIMITIVES_FILE, Primitive, bounding_radius, save_primitives
from latent_atlas.engine.config import Device
from latent_atlas.engine.device import resolve_device
from latent_atlas.errors import ConfigError

CAMERA_ANGLE_X = 0.6911112070083618
CAMERA_DISTANCE = 3.0
OBJECT_RADIUS = SceneStyle().radius
THIN_MARGIN = 0.05
"""Grid points this close to a thin/mixed solid count for its radius (its thin parts fall between grid points)."""
TRACE_RADIUS = 1.1 * OBJECT_RADIUS  # rays start at this sphere (a margin over the grid estimate of the solid's radius)


@dataclass
class SynthConfig:
    """`latlas data synth`: procedural multi-view scenes, deterministic from a seed."""

    output: Path = Path("data/synth")
    """Folder to write: <output>/scene_000/... and <output>/dataset_map.json."""
    family: Literal["objects", "cars", "dynamic", "textured", "thin", "mixed"] = "objects"
    """Scene family: objects (random composites), cars (toy cars), dynamic (composites whose parts move and turn
    over time; each frame at its own time, D-NeRF layout: training times evenly spread over [0, 1]), textured
    (patterns and mosaic image textures), thin (aircraft with thin wings and poles, tables with large flat tops)
    or mixed (any of objects/cars/textured/thin, half with specular highlights, sizes 0.55-0.95, 3 in 10 with a sky)."""
    num_scenes: int = 1
    """How many scenes."""
    resolution: int = 64
    """Square image size in pixels."""
    num_train: int = 100
    """Training views per scene."""
    num_val: int = 10
    """Validation views per scene."""
    num_test: int = 20
    """Test views per scene."""
    seed: int = 0
    """Seed of the whole family (scene i uses seed * 100003 + i)."""
    supersample: int = 2
    """Rays per pixel side (anti-aliasing)."""
    sky: bool = False
    """Opaque images: what misses the object shows a sky/ground gradient by view direction (surroundings, as real
    captures have; for --background learned)."""
    dtu: bool = False
    """Also write every view as a DTU-layout copy (image/, mask/, cameras.npz, a scaled and shifted world undone by
    scale_mat) in <scene>/dtu/."""
    device: Device = "cpu"
    """Where rays are traced (auto: cuda where present; CUDA's images agree with the CPU's to float rounding)."""
    workers: int = 1
    """Processes rendering scenes side by side (one torch thread each when > 1; the same images, any count)."""
    resume: bool = False
    """Keep the scenes an earlier run with the same settings (any --num-scenes) completed in --output, each marked
    by its primitives.json (written last), and render only the others: a killed run continues, a family grows."""


SETTINGS_FILE = "synth_config.json"
"""What decides a family's images, written beside dataset_map.json; --resume checks it."""


def image_settings(cfg: SynthConfig) -> dict:
    """The settings a scene's files depend on (not --output, --num-scenes, --device, --workers, --resume)."""
    kept = ("family", "resolution", "num_train", "num_val", "num_test", "seed", "supersample", "sky", "dtu")
    return {name: getattr(cfg, name) for name in kept}


def check_resumable(cfg: SynthConfig) -> None:
    """ConfigError unless --output's recorded settings are cfg's (or --output holds no scene yet)."""
    path = cfg.output / SETTINGS_FILE
    if not path.is_file():
        if any(cfg.output.glob("scene_*")):
            raise ConfigError(f"--resume: {path} not found (scenes of an unknown run; without --resume they are written again)")
        return
    recorded = read_json(path)  # DataError naming the file when damaged
    recorded = recorded if isinstance(recorded, dict) else {}
    wanted = image_settings(cfg)
    differ = [f"--{k.replace('_', '-')} {recorded.get(k)} there, {v} here" for k, v in wanted.items() if recorded.get(k) != v]
    if differ:
        raise ConfigError(f"--resume: {path} was written with other settings ({'; '.join(differ)})")


def hemisphere_cameras(n: int, resolution: int, g: torch.Generator) -> Cameras:
    """n cameras at distance 3 on the upper hemisphere looking at the origin, no roll (up = +z)."""
    z = 0.02 + 0.93 * torch.rand(n, generator=g)
    phi = 2 * math.pi * torch.rand(n, generator=g)
    r = torch.sqrt(1 - z**2)
    positions = CAMERA_DISTANCE * torch.stack([r * torch.cos(phi), r * torch.sin(phi), z], dim=-1)
    c2w = look_at(positions, torch.zeros(3), torch.tensor([0.0, 0.0, 1.0]))
    focal = 0.5 * resolution / math.tan(0.5 * CAMERA_ANGLE_X)
    half = resolution / 2.0
    return Cameras(
        c2w,
        torch.full((n,), focal),
        torch.full((n,), focal),
        torch.full((n,), half),
        torch.full((n,), half),
        torch.full((n,), resolution),
        torch.full((n,), resolution),
    )


def frame_times(split: str, count: int, g: torch.Generator) -> list[float]:
    """Times of a dynamic scene's frames: training frames evenly over [0, 1], held-out frames at random times."""
    if split == "train":
        return [i / max(count - 1, 1) for i in range(count)]
    return torch.rand(count, generator=g).tolist()


def render_split(cams: Cameras, prims: list[Primitive], motions: list[Motion] | None, times: list[float] | None, scale: float, cfg: SynthConfig) -> Tensor:
    """RGBA images [V, H, W, 4] of a split: all views at once, or (dynamic) each view at its own time."""
    if motions is None:
        return render_views(cams, prims, scale, cfg.supersample, radius=TRACE_RADIUS, sky=cfg.sky, device=cfg.device)
    return torch.cat(
        [
            render_views(cams[i], posed(prims, motions, t), scale, cfg.supersample, radius=TRACE_RADIUS, sky=cfg.sky, device=cfg.device)
            for i, t in enumerate(times)
        ]
    )


def write_scene(folder: Path, family: str, scene_seed: int, cfg: SynthConfig) -> None:
    """Renders one scene and writes transforms_{split}.json, transforms.json, primitives.json and the PNGs."""
    g = torch.Generator().manual_seed(scene_seed)
    prims = make_scene(family, g)
    motions = [random_motion(g) for _ in prims] if family == "dynamic" else None
    style = scene_style(family, g)
    cfg = dataclasses.replace(cfg, sky=cfg.sky or style.sky)
    poses = [prims] if motions is None else [posed(prims, motions, t) for t in (0.0, 0.25, 0.5, 0.75, 1.0)]
    margin = THIN_MARGIN if family in ("thin", "mixed") else 0.0
    scale = style.radius / max(bounding_radius(p, margin=margin) for p in poses)
    counts = {"train": cfg.num_train, "val": cfg.num_val, "test": cfg.num_test}
    ns_frames, ns_splits, all_images, all_poses = [], {}, [], []
    for split_id, (split, count) in enumerate(counts.items()):
        split_seed = scene_seed * 7 + split_id + 1
        cams = hemisphere_cameras(count, cfg.resolution, torch.Generator().manual_seed(split_seed))
        times = frame_times(split, count, torch.Generator().manual_seed(split_seed + 1000)) if motions is not None else None
        frames = []
        images = render_split(cams, prims, motions, times, scale, cfg)  # [count, H, W, 4]
        all_images.append(images)
        all_poses.append(cams.camera_to_worlds)
        for i in range(count):
            write_png(folder / split / f"r_{i}.png", images[i])
            matrix = cams.camera_to_worlds[i].tolist()
            timed = {} if times is None else {"time": times[i]}
            frames.append({"file_path": f"./{split}/r_{i}", "rotation": 0.0, "transform_matrix": matrix, **timed})
            ns_frames.append({"file_path": f"{split}/r_{i}.png", "transform_matrix": matrix, **timed})
        ns_splits[f"{split}_filenames"] = [f["file_path"][2:] + ".png" for f in frames]
        (folder / f"transforms_{split}.json").write_text(json.dumps({"camera_angle_x": CAMERA_ANGLE_X, "frames": frames}, indent=2))
    focal = 0.5 * cfg.resolution / math.tan(0.5 * CAMERA_ANGLE_X)
    half = cfg.resolution / 2.0
    nerfstudio = {
        "camera_model": "OPENCV",
        "fl_x": focal,
        "fl_y": focal,
        "cx": half,
        "cy": half,
        "w": cfg.resolution,
        "h": cfg.resolution,
        "k1": 0.0,
        "k2": 0.0,
        "p1": 0.0,
        "p2": 0.0,
        "frames": ns_frames,
        **ns_splits,
    }
    (folder / "transforms.json").write_text(json.dumps(nerfstudio, indent=2))
    if cfg.dtu:
        write_dtu(folder / "dtu", torch.cat(all_images), torch.cat(all_poses), focal, (half, half), scale=2.5, shift=(0.3, -0.2, 1.0))
    save_primitives(folder / PRIMITIVES_FILE, prims, scale, motions)  # last, atomically: it marks the scene complete


def scenes_to_render(cfg: SynthConfig) -> list[int]:
    """Indices of the scenes synthesize renders: all, or with --resume those without their primitives.json."""
    return [i for i in range(cfg.num_scenes) if not (cfg.resume and (cfg.output / f"scene_{i:03d}" / PRIMITIVES_FILE).is_file())]


def synthesize(cfg: SynthConfig) -> list[Path]:
    """Writes cfg.num_scenes scenes of cfg.family into cfg.output; returns their folders."""
    if cfg.family not in FAMILIES:
        raise ConfigError(f"--family {cfg.family}: choose from {', '.join(FAMILIES)}")
    if cfg.num_scenes < 1 or cfg.num_train < 1 or cfg.resolution < 4 or cfg.workers < 1:
        raise ConfigError("--num-scenes, --num-train and --workers must be >= 1 and --resolution >= 4")
    if cfg.dtu and cfg.family == "dynamic":
        raise ConfigError("--dtu: DTU scenes are static; the dynamic family has no DTU copy")
    cfg = dataclasses.replace(cfg, device=resolve_device(cfg.device).type)  # ConfigError for cuda without CUDA
    if cfg.resume:
        check_resumable(cfg)
    save_json_atomic(cfg.output / SETTINGS_FILE, image_settings(cfg))
    folders = [cfg.output / f"scene_{i:03d}" for i in range(cfg.num_scenes)]
    todo = scenes_to_render(cfg)
    folders_todo = [folders[i] for i in todo]
    seeds = [cfg.seed * 100003 + i for i in todo]
    if cfg.workers == 1 or len(todo) < 2:
        for folder, seed in zip(folders_todo, seeds):
            write_scene(folder, cfg.family, seed, cfg)
    else:  # spawned, not forked: a forked child can hang on the parent's torch thread pool
        with ProcessPoolExecutor(
            min(cfg.workers, len(todo)), mp_context=multiprocessing.get_context("spawn"), initializer=torch.set_num_threads, initargs=(1,)
        ) as pool:
            list(pool.map(write_scene, folders_todo, [cfg.family] * len(seeds), seeds, [cfg] * len(seeds)))  # re-raises a worker's error
    (cfg.output / "dataset_map.json").write_text(json.dumps({cfg.family: [f.name for f in folders]}, indent=2))
    return folders
