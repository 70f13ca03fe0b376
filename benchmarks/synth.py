"""`latlas data synth` speed: one view per trace from the origin (before) vs all views of a split in one trace from the bounding sphere (now).

    python benchmarks/synth.py --scenes 4 --resolution 64 --views 27

Both paths render the same cars (the family's seeds) in one process, alternating per scene; the table
gives seconds per scene, the ratio, and how many pixels differ (grazing rays at silhouettes may converge
differently when they start closer to the solid).
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from latent_atlas.data.synth.families import make_scene
from latent_atlas.data.synth.raytrace import render_view, render_views
from latent_atlas.data.synth.sdf import bounding_radius
from latent_atlas.data.synth.writer import OBJECT_RADIUS, TRACE_RADIUS, hemisphere_cameras


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--views", type=int, default=27, help="views per scene (20 train + 2 val + 5 test in scaled.py)")
    parser.add_argument("--supersample", type=int, default=2)
    args = parser.parse_args()
    seconds = {"per view, from the origin": 0.0, "batched, from the sphere": 0.0}
    differing, pixels = 0, 0
    for i in range(args.scenes):
        prims = make_scene("cars", torch.Generator().manual_seed(100 * 100003 + i))
        scale = OBJECT_RADIUS / bounding_radius(prims)
        cams = hemisphere_cameras(args.views, args.resolution, torch.Generator().manual_seed(i))
        start = time.perf_counter()
        before = torch.stack([render_view(cams, v, prims, scale, args.supersample) for v in range(args.views)])
        seconds["per view, from the origin"] += time.perf_counter() - start
        start = time.perf_counter()
        now = render_views(cams, prims, scale, args.supersample, radius=TRACE_RADIUS)
        seconds["batched, from the sphere"] += time.perf_counter() - start
        differing += int(((before - now).abs().amax(dim=-1) > 1.0 / 255).sum())
        pixels += before[..., 0].numel()
    print(
        f"# {time.strftime('%Y-%m-%d')} | {platform.machine()}, {torch.get_num_threads()} threads | {args.scenes} cars, "
        f"{args.views} views of {args.resolution} px, supersample {args.supersample}"
    )
    print("| path | s / scene | ratio |")
    print("|---|---|---|")
    base = seconds["per view, from the origin"]
    for name, s in seconds.items():
        print(f"| {name} | {s / args.scenes:.2f} | {base / s:.2f}x |")
    print(f"\npixels differing by more than 1/255: {differing} of {pixels} ({100 * differing / pixels:.4f}%)")


if __name__ == "__main__":
    main()
