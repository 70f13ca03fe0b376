"""How well a latent run's renders match the encoded latents, per channel, on its training and test views.

    python benchmarks/latent_consistency.py RUN [RUN ...] [--views 10]

For each latent run (any `latlas train ... --space latent` run folder, newest checkpoint): the root-mean-square
error between rendered and encoded (normalised) latents, relative to each channel's standard deviation over a
view, per channel and over all channels (variance-weighted), on up to --views training and test views. A field
that fits its training views but not its test views has memorised latents that are not a function of the 3D
scene: neighbouring views code the same surface differently (BENCHMARKS.md, "What limits a latent NeRF here").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_line  # noqa: E402

from latent_atlas.evaluation.loading import load_trained_run  # noqa: E402


@torch.no_grad()
def relative_errors(run, split_name: str, views: int) -> tuple[torch.Tensor, float]:
    """Per-channel RMS render error over the channel's std [C] of a loaded latent run on one split, and the
    variance-weighted one over all channels."""
    split = run.scenes[0].split(split_name)
    picked = torch.linspace(0, len(split) - 1, min(views, len(split))).round().long().unique().tolist()
    errors, variances = [], []
    for i in picked:
        render = run.render(0, split.cameras, i, None)["color"]  # [h, w, C] normalised latents
        target = split.images[i].float()
        target = target / 255.0 if split.images.dtype == torch.uint8 else target
        target = target[..., : render.shape[-1]]
        errors.append(((render - target) ** 2).mean(dim=(0, 1)))
        variances.append(target.var(dim=(0, 1)))
    error, variance = torch.stack(errors).mean(0), torch.stack(variances).mean(0).clamp_min(1e-12)
    return (error / variance).sqrt(), float((error.sum() / variance.sum()).sqrt())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--views", type=int, default=10, help="views per split, spread over it")
    args = parser.parse_args()
    print(machine_line())
    print("| run | split | all channels (variance-weighted) | per channel |")
    print("|---|---|---|---|")
    for run_dir in args.runs:
        run = load_trained_run(run_dir, "cpu", None)
        for split_name in ("train", "test"):
            per_channel, overall = relative_errors(run, split_name, args.views)
            print(f"| {run_dir.name} | {split_name} | {overall:.3f} | {' '.join(f'{v:.2f}' for v in per_channel.tolist())} |")


if __name__ == "__main__":
    main()
