"""What one decoded-phase decoder step costs, by what it trains: the whole decoder or its head, with or without a
gradient to the rendered latents, against decoding alone.

    python benchmarks/decoder_step.py                       # the built-in autoencoder on a 32 x 32 latent view
    python benchmarks/decoder_step.py --ae tiny --size 16

Prints one table: milliseconds per forward + backward of |D(z) - target|^2 (median of --repeats after --warmup).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_line  # noqa: E402

from latent_atlas.spaces.autoencoder_kl import AutoencoderKL  # noqa: E402
from latent_atlas.spaces.presets import BUILTIN_AE, preset_config  # noqa: E402

CASES = {
    "whole decoder, gradient to the latents (the default decoded phase)": ("decoder", True, True),
    "whole decoder, latents detached (--latent.no-decoded-field-gradient)": ("decoder", False, True),
    "head only, gradient to the latents (--latent.decoder-part head)": ("head", True, True),
    "head only, trunk without autograd (both options)": ("head", False, False),
}
"""Case name -> (trained part, the latents need a gradient, the trunk runs with autograd)."""


def median_ms(fn: Callable[[], object], warmup: int, repeats: int) -> float:
    """Median milliseconds of fn() over `repeats` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def step_ms(model: AutoencoderKL, z: torch.Tensor, target: torch.Tensor, part: str, latent_grad: bool, trunk_grad: bool, warmup: int, repeats: int) -> float:
    """Median milliseconds of one forward + backward of the decoded loss, only `part`'s parameters trained."""
    trained = set(model.decoder_head_parameters() if part == "head" else model.decoder_parameters())
    for name, p in model.named_parameters():
        p.requires_grad_(name in trained)

    def step() -> None:
        model.zero_grad(set_to_none=True)
        decoded = model.decode(z.detach().requires_grad_(latent_grad), trunk_gradients=trunk_grad)
        torch.mean((decoded - target) ** 2).backward()

    return median_ms(step, warmup, repeats)


def forward_ms(model: AutoencoderKL, z: torch.Tensor, warmup: int, repeats: int) -> float:
    """Median milliseconds of decoding alone, without autograd."""
    with torch.no_grad():
        return median_ms(lambda: model.decode(z), warmup, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ae", default=BUILTIN_AE.removesuffix("-igae"), help="an autoencoder preset (random weights: the cost is the same)")
    parser.add_argument("--size", type=int, default=32, help="latent pixels per side of the view")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = AutoencoderKL(preset_config(args.ae))
    # renders enter the decoder channels-last ([1, h, w, C] permuted), as in the decoded phase
    z = torch.randn(1, args.size, args.size, model.latent_channels).permute(0, 3, 1, 2)
    f = model.downscale_factor
    target = torch.rand(1, 3, args.size * f, args.size * f) * 2 - 1
    print(machine_line())
    print(f"# {args.ae}, {args.size} x {args.size} latents, median of {args.repeats}")
    print("| decoder step | ms |")
    print("|---|---|")
    for name, (part, latent_grad, trunk_grad) in CASES.items():
        print(f"| {name} | {step_ms(model, z, target, part, latent_grad, trunk_grad, args.warmup, args.repeats):.1f} |")
    print(f"| forward alone, no autograd | {forward_ms(model, z, args.warmup, args.repeats):.1f} |")


if __name__ == "__main__":
    main()
