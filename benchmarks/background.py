"""White vs random training background, side by side: test PSNR and colour fidelity.

A fixed white background lets a small NeRF fake colours with dark, semi-transparent
density (grey renders, plausible PSNR). This prints, for each background, the PSNR on
the first test view and the foreground colour spread (mean of max - min over RGB)
of the render against the ground truth's.

    python benchmarks/background.py --data outputs/demo/data/scene_000 --steps 600
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from latent_atlas.data.scene import composite_on_background
from latent_atlas.evaluation.metrics import psnr
from latent_atlas.evaluation.render_views import render_image
from latent_atlas.methods.registry import method_config
from latent_atlas.tasks.scene import SceneTask
from latent_atlas.tasks.scene_config import TrainConfig


def colour_spread(image: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean over foreground pixels of (max - min) over the colour channels."""
    return (image[mask].amax(-1) - image[mask].amin(-1)).mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--method", default="tiny-nerf")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/benchmarks/background"))
    args = parser.parse_args()
    print("| background | test PSNR (view 0, on white) | colour spread render | colour spread GT |")
    print("|---|---|---|---|")
    for background in ("white", "random"):
        method = method_config(args.method)
        method.max_steps = args.steps
        cfg = TrainConfig(
            method_name=args.method,
            method=method,
            data=args.data,
            output_dir=args.output_dir,
            background=background,
            progress=False,
            eval_every=10**9,
            checkpoint_every=10**9,
        )
        trainer = SceneTask(cfg)
        trainer.train()
        split = trainer.scene.split("test")
        render = render_image(trainer.model, split.cameras, 0, "white", trainer.box_min, trainer.box_max)["color"].cpu()
        rgba = split.rgba(0)
        gt = composite_on_background(rgba, torch.ones(3))
        fg = rgba[..., 3] > 0.9
        print(f"| {background} | {psnr(render, gt):.2f} | {colour_spread(render, fg):.3f} | {colour_spread(gt, fg):.3f} |")


if __name__ == "__main__":
    main()
