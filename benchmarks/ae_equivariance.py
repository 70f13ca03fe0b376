"""How interpolatable each autoencoder's latents are, on held-out views: what a latent NeRF can fit.

    python benchmarks/ae_equivariance.py                                   # the built-in autoencoders
    python benchmarks/ae_equivariance.py --ae latlas-f4c16-pooled RUN/autoencoder

Per autoencoder, on the test views of --data (composited on white): reconstruction PSNR; the PSNR of decoding
latents resampled half a latent pixel over against the image moved as much (decoder equivariance); and
|E(moved) - resampled E| relative to each channel's standard deviation, as root mean over channels (encoder
equivariance: the share of the latents that a 3D field cannot explain, since neighbouring views see the same
surface at fractional offsets). With --view-data (synthesized scenes, `latlas data synth`): |E(view B) - E(view A)
at the same surface points| relative to each channel's standard deviation, root mean over channels, each train view
against its nearest one (view consistency: what a latent NeRF has to fit; images box-downsampled to the latent
grid score 0.19 on the six held-out scenes of BENCHMARKS.md, session 22).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_line  # noqa: E402

from latent_atlas.data.scene import composite_on_background  # noqa: E402
from latent_atlas.data.synth.correspondence import ViewPairs, scene_view_pairs  # noqa: E402
from latent_atlas.evaluation.ae_ceiling import reconstruction_psnr, views_on_white  # noqa: E402
from latent_atlas.spaces.ae_loading import load_autoencoder  # noqa: E402
from latent_atlas.spaces.equivariance import shift_equivariance, view_consistency  # noqa: E402
from latent_atlas.spaces.presets import BUILTIN_AE  # noqa: E402

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "objects128"
HALF_SHIFTS = ((4, 0), (0, 4), (4, 4))
"""Shifts in pixels of an f8 autoencoder: half a latent pixel across, down and diagonally."""


@torch.no_grad()
def measure(spec: str, images: torch.Tensor) -> dict[str, float]:
    """Reconstruction PSNR, half-shift decode PSNR and encoder error/std of one autoencoder on images [B, 3, H, W] in [-1, 1]."""
    model = load_autoencoder(spec).float().eval()
    f, size = model.downscale_factor, images.shape[-1] - model.downscale_factor
    decoder, encoder = [], []
    for ty, tx in HALF_SHIFTS:
        terms = shift_equivariance(model, images, size, ty * f // 8, tx * f // 8)
        decoder.append(10 * math.log10(4.0 / terms.decoder.item()))
        encoder.append(math.sqrt(terms.encoder.item()))
    return {
        "recon_psnr": reconstruction_psnr(model, images),
        "half_shift_decode_psnr": sum(decoder) / len(decoder),
        "encoder_error_over_std": sum(encoder) / len(encoder),
    }


@torch.no_grad()
def view_consistency_error(spec: str, scenes: list[Path]) -> float:
    """Root of view_consistency (error / channel std) of one autoencoder over each train view of the synthesized
    scenes against its nearest view, on white."""
    model = load_autoencoder(spec).float().eval()
    pairs = ViewPairs.cat([scene_view_pairs(folder, model.downscale_factor) for folder in scenes])
    x = (composite_on_background(pairs.images.float() / 255.0, torch.ones(3)) * 2 - 1).permute(0, 3, 1, 2)
    latents = torch.cat([model.encode(chunk)[0] for chunk in x.split(16)])
    return math.sqrt(view_consistency(latents[pairs.target], latents[pairs.source], pairs.grid, pairs.mask).item())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ae", nargs="+", default=[BUILTIN_AE.removesuffix("-igae"), BUILTIN_AE])
    parser.add_argument("--data", type=Path, nargs="+", default=[DATASETS / "bunny", DATASETS / "suzanne"])
    parser.add_argument("--views", type=int, default=16, help="test views per scene")
    parser.add_argument("--view-data", type=Path, nargs="*", default=[], help="synthesized scene folders for the view-consistency column")
    args = parser.parse_args()
    images = views_on_white(args.data, args.views)
    print(machine_line())
    print(f"# {images.shape[0]} test views of {', '.join(p.name for p in args.data)}; shifts of half a latent pixel {HALF_SHIFTS}")
    if args.view_data:
        print(f"# view consistency: train views of {len(args.view_data)} synthesized scenes, each against its nearest view")
    print("| autoencoder | reconstruction PSNR | decode(half-shifted latents) PSNR | encoder error / latent std | view consistency error / latent std |")
    print("|---|---|---|---|---|")
    for spec in args.ae:
        row = measure(spec, images)
        views = f"{view_consistency_error(spec, args.view_data):.3f}" if args.view_data else "-"
        name = Path(spec).name if Path(spec).exists() else spec
        print(f"| {name} | {row['recon_psnr']:.2f} | {row['half_shift_decode_psnr']:.2f} | {row['encoder_error_over_std']:.3f} | {views} |")


if __name__ == "__main__":
    main()
