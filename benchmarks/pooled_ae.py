"""Pooled-encoder autoencoders: does a latent that moves exactly with the image make latents a NeRF can learn?

    python benchmarks/pooled_ae.py [--variants hermite isotropic] [--steps 600] [--budgets 60 120] [--probe-start]
    python benchmarks/pooled_ae.py --variants isotropic-f4 --logvar-init -1.4    # latlas-f4c16-pooled with latent noise

Per variant of the latlas-f8c16-pooled preset (hermite: its oriented Gaussian-Hermite windows and 3x3 features;
isotropic: one Gaussian and one zero-mean Gaussian times r^2 over 1x1 colour features, unchanged by image
rotation; isotropic-3scales: three such scales from 0.45 latent pixels; hermite-f4 and isotropic-f4: those at f4, 32 x 32
latents of 128-px views), trained with `latlas ae train`'s recipe (64-px crops, varied backgrounds, Adam 1e-3 -> 5e-5) on the
built-in autoencoder's synthesized data (made when missing, as benchmarks/builtin_ae.py does), and optionally its linear start (step 0): reconstruction and half-shift
equivariance on objects128 test views (ae_equivariance.py); then latent instant-ngp on objects128/bunny: decoded
PSNR (metrics_d), metrics_e, the autoencoder's own reconstruction of those test views (its ceiling), and the render error per latent channel on training and
test views over the channel's spread (latent_consistency.py): a channel that fits on training views but not on
test views is not a function of the 3D scene.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ae_equivariance import DATASETS, measure  # noqa: E402
from builtin_ae import make_data  # noqa: E402
from latent_consistency import relative_errors  # noqa: E402
from machine import machine_line  # noqa: E402
from train_budget import run_method  # noqa: E402

from latent_atlas.evaluation.ae_ceiling import autoencoder_ceiling, views_on_white  # noqa: E402
from latent_atlas.evaluation.loading import load_trained_run  # noqa: E402
from latent_atlas.methods.base import OptimizerConfig  # noqa: E402
from latent_atlas.methods.defaults import device_flags  # noqa: E402
from latent_atlas.spaces.ae_loading import save_pretrained  # noqa: E402
from latent_atlas.spaces.presets import AE_PRESETS  # noqa: E402
from latent_atlas.tasks.autoencoder import AETrainConfig, AETrainer  # noqa: E402

PRESET = "latlas-f8c16-pooled"
VARIANTS = {
    "hermite": AE_PRESETS[PRESET],
    "isotropic": replace(AE_PRESETS[PRESET], pool_windows="isotropic", pool_order=0, pool_feature_kernel=1),
    "isotropic-3scales": replace(AE_PRESETS[PRESET], pool_windows="isotropic", pool_sigma=0.45, pool_order=2, pool_feature_kernel=1),
    "hermite-f4": replace(AE_PRESETS[PRESET], block_out_channels=(32, 64, 128), patch_kernel=8),
    "isotropic-f4-2scales": replace(
        AE_PRESETS[PRESET], block_out_channels=(32, 64, 128), patch_kernel=8, pool_windows="isotropic", pool_order=1, pool_feature_kernel=1
    ),
    "isotropic-f4": AE_PRESETS["latlas-f4c16-pooled"],
}
"""Architectures compared, by name."""


def train_variant(name: str, data: Path, steps: int, out: Path, logvar_init: float) -> tuple[Path, Path]:
    """Trains one variant; returns the folders of its linear start and of its trained weights."""
    AE_PRESETS[PRESET] = VARIANTS[name]
    try:
        config = AETrainConfig(
            data=(data,),
            preset=PRESET,
            crop=64,
            batch_size=8,
            background="varied",
            max_steps=steps,
            optimizer=OptimizerConfig(lr=1e-3, lr_final=5e-5),
            output_dir=out / name,
            eval_every=100,
            progress=False,
            logvar_init=logvar_init,
        )
        trainer = AETrainer(config)
        start = save_pretrained(trainer.exported(), out / name / "start")
        run = trainer.train()
    finally:
        AE_PRESETS[PRESET] = VARIANTS["hermite"]
    return start, run / "autoencoder"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=["hermite", "isotropic"], choices=list(VARIANTS))
    parser.add_argument("--workdir", type=Path, default=Path("outputs/builtin_ae"), help="where builtin_ae.py keeps its data/")
    parser.add_argument("--scene", type=Path, default=DATASETS / "bunny", help="the scene the latent NeRF learns")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--budgets", nargs="+", type=float, default=[60.0, 120.0])
    parser.add_argument("--logvar-init", type=float, default=-10.0, help="posterior log-variance at the start (-1.4: latent noise of std 0.5)")
    parser.add_argument("--probe-start", action="store_true", help="also train a latent NeRF on each linear start")
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/benchmarks/pooled_ae"))
    args = parser.parse_args()
    data = make_data(args.workdir, {})["recon"]
    views = views_on_white([DATASETS / "bunny", DATASETS / "suzanne"], 16)
    lines = []
    for name in args.variants:
        start, trained = train_variant(name, data, args.steps, args.output_dir, args.logvar_init)
        for label, ae in (("start", start), (f"{args.steps} steps", trained)):
            ae_row = measure(str(ae), views)
            nerf = []
            if label != "start" or args.probe_start:
                flags = [*device_flags("instant-ngp", "cpu", "latent"), "--space", "latent", "--ae", str(ae)]
                nerf = run_method("instant-ngp", args.scene, sorted(args.budgets), args.output_dir / "nerf" / name, 10, flags)
            decoded = " / ".join(f"{r['test_psnr']:.2f}" for r in nerf) or "-"
            metrics_e = f"{nerf[-1]['metrics_e_psnr']:.2f}" if nerf else "-"
            ceiling = f"{autoencoder_ceiling(str(ae), args.scene, 10):.2f}"
            errors = "- | -"
            if nerf:
                run = load_trained_run(Path(nerf[-1]["run_dir"]), "cpu", None)
                train_err, test_err = (relative_errors(run, split, 10) for split in ("train", "test"))
                errors = f"{train_err[1]:.3f} / {test_err[1]:.3f} | {' '.join(f'{v:.2f}' for v in test_err[0].tolist())}"
            lines.append(
                f"| {name} | {label} | {ae_row['recon_psnr']:.2f} | {ae_row['encoder_error_over_std']:.3f} | {decoded} | {ceiling} | {metrics_e} | {errors} |"
            )
    print(machine_line())
    print(f"# reconstruction and encoder error: 32 test views of objects128 bunny + suzanne; latent instant-ngp on {args.scene.name}, 10 test views")
    budgets = " / ".join(f"{b:g}" for b in sorted(args.budgets))
    print(
        f"| variant | weights | reconstruction | encoder error / std | decoded at {budgets} s | ceiling | metrics_e | render error train / test | test, per channel |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
