"""`latlas data synth` speed, two checkouts side by side: seconds per car of render_views (the sphere tracer and
shading of all views of a split) and how many pixels differ between them.

    git worktree add /tmp/old <commit>
    python benchmarks/synth.py --old /tmp/old --scenes 3 --resolution 128 --views 27

Each car is rendered by the old checkout, then by this one (alternating car by car), each in a fresh process that
imports its checkout and times only render_views; the parent compares the images. Prints a table with the CPU
model, torch version and thread count.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_line  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def render_one(scene: int, resolution: int, views: int, supersample: int, output: Path) -> None:
    """Renders car `scene` with the latent_atlas on sys.path; saves {'images': [V, H, W, 4], 'seconds': float}."""
    from latent_atlas.data.synth.families import make_scene
    from latent_atlas.data.synth.raytrace import render_views
    from latent_atlas.data.synth.sdf import bounding_radius
    from latent_atlas.data.synth.writer import OBJECT_RADIUS, TRACE_RADIUS, hemisphere_cameras

    prims = make_scene("cars", torch.Generator().manual_seed(100 * 100003 + scene))
    scale = OBJECT_RADIUS / bounding_radius(prims)
    cams = hemisphere_cameras(views, resolution, torch.Generator().manual_seed(scene))
    start = time.perf_counter()
    images = render_views(cams, prims, scale, supersample, radius=TRACE_RADIUS)
    torch.save({"images": images, "seconds": time.perf_counter() - start}, output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, required=True, help="a checkout of an earlier commit (git worktree add)")
    parser.add_argument("--scenes", type=int, default=3)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--views", type=int, default=27, help="views per scene (20 train + 2 val + 5 test in scaled.py)")
    parser.add_argument("--supersample", type=int, default=2)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child mode: render this car into --output
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        render_one(args.one, args.resolution, args.views, args.supersample, args.output)
        return
    checkouts = {"old": args.old.resolve(), "new": ROOT}
    seconds, differing, pixels = dict.fromkeys(checkouts, 0.0), 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for scene in range(args.scenes):
            images = {}
            for name, checkout in checkouts.items():
                out = Path(tmp) / f"{name}_{scene}.pt"
                child = [sys.executable, __file__, "--old", str(args.old), "--one", str(scene), "--output", str(out)]
                child += ["--resolution", str(args.resolution), "--views", str(args.views), "--supersample", str(args.supersample)]
                subprocess.run(child, check=True, env={**os.environ, "PYTHONPATH": str(checkout)}, cwd=checkout)
                result = torch.load(out, weights_only=True)
                seconds[name] += result["seconds"]
                images[name] = result["images"]
            differing += int(((images["old"] - images["new"]).abs().amax(dim=-1) > 0).sum())
            pixels += images["new"][..., 0].numel()
    print(machine_line())
    print(f"# {args.scenes} cars, {args.views} views of {args.resolution} px, supersample {args.supersample}; old: {args.old}")
    print("| checkout | s / car | speed-up |")
    print("|---|---|---|")
    for name, s in seconds.items():
        print(f"| {name} | {s / args.scenes:.2f} | {seconds['old'] / s:.2f}x |")
    print(f"\npixels differing between the two: {differing} of {pixels}")


if __name__ == "__main__":
    main()
