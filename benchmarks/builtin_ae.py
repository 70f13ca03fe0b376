"""Makes the built-in autoencoders from nothing but the package: `make ae` runs this.

    python benchmarks/builtin_ae.py --igae-loss-ae 3.0 [--workdir outputs/builtin_ae] [--install]        # latlas-f8c16-igae
    python benchmarks/builtin_ae.py --preset latlas-f4c16-pooled --logvar-init -1.4 --recon-steps 1500 --no-igae --install   # the plain f4
    python benchmarks/builtin_ae.py --preset latlas-f4c16-pooled --plain latlas-f4c16-pooled --igae-loss-ae 1.0 --install   # then its IG-AE
    python benchmarks/builtin_ae.py --preset latlas-f4c16-pooled --logvar-init -1.4 --recon-steps 1500 --decoder-steps 1500 --no-igae  # + decoder-only
    python benchmarks/builtin_ae.py --preset latlas-f4c16-slim --plain latlas-f4c16-pooled-igae --decoder-steps 3000 --decoder-lr 1e-3 \
        --igae-frozen-encoder --igae-loss-ae 1.0 --install                                          # a new slim decoder, IG-AE'd

Stages (each skipped when its output exists, so an interrupted run continues where it stopped):
1. data: `latlas data synth --family mixed` (objects, cars, patterned / image-textured, thin and wide structures,
   half with specular highlights, sizes 0.55-0.95, 3 in 10 over a sky), 128 px: 240 scenes x 8 views for
   reconstruction, 32 other scenes x 20 views for IG-AE. Never ../shared/datasets, held out for measuring.
2. recon: `latlas ae train --preset <preset>` on random 64-px crops, white or random backgrounds.
2b. decoder (with --decoder-steps N): `latlas ae train --train-parts decoder --init-parts matching` from stage 2's (or
   --plain's) autoencoder: the decoder trains on (or, when --preset's decoder has other widths, a new one trains from
   scratch), the encoder (so the latent space and its noise) stays as it is.
3. igae (unless --no-igae): `latlas igae` (Tri-Planes of the IG-AE scenes learned in its latent space, then jointly with the
   encoder and decoder, or the decoder alone with --igae-frozen-encoder: renders of latent scenes must decode to the views).
4. export (--install): the IG-AE'd autoencoder (the plain one with --no-igae) in float16 into latent_atlas/spaces/weights/ with its reconstruction
   PSNR on the test views of ../shared/datasets/objects128 (when present) and the times of each stage, written
   into the model card.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_model  # noqa: E402
from train_budget import latlas  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "latent_atlas" / "spaces" / "weights"
OBJECTS128 = REPO.parent / "shared" / "datasets" / "objects128"

DATA = {
    "recon": ["--family", "mixed", "--num-scenes", "240", "--resolution", "128", "--num-train", "8", "--num-val", "1", "--num-test", "1", "--seed", "1000"],
    "igae": ["--family", "mixed", "--num-scenes", "32", "--resolution", "128", "--num-train", "20", "--num-val", "1", "--num-test", "2", "--seed", "2000"],
}
"""`latlas data synth` flags of the two training sets."""


def timed(name: str, log: dict, fn):
    """Runs fn(), records its wall time in log[name] (seconds), returns its result."""
    start = time.perf_counter()
    result = fn()
    log[name] = round(time.perf_counter() - start, 1)
    print(f"{name}: {log[name]:.0f} s", flush=True)
    return result


def finished_run(folder: Path) -> Path | None:
    """The newest run under `folder` that wrote its summary.json, or None."""
    done = sorted(folder.glob("**/summary.json"))
    return done[-1].parent if done else None


def make_data(workdir: Path, times: dict) -> dict[str, Path]:
    """Stage 1: the synthesized training sets (skipped when written)."""
    folders = {}
    for name, flags in DATA.items():
        folder = workdir / "data" / name
        if not (folder / "dataset_map.json").is_file():
            timed(f"data_{name}_s", times, lambda f=folder, fl=flags: latlas("data", "synth", "--output", str(f), *fl))
        folders[name] = folder
    return folders


def reconstruction_flags(args: argparse.Namespace) -> list[str]:
    """The `latlas ae train` flags of stage 2 that define the weights (the model card quotes them)."""
    flags = ["--preset", args.preset, "--crop", "64", "--batch-size", "8", "--background", "varied", "--max-steps", str(args.recon_steps)]
    return flags + (["--logvar-init", str(args.logvar_init)] if args.logvar_init is not None else [])


def train_reconstruction(workdir: Path, data: Path, args: argparse.Namespace, times: dict) -> Path:
    """Stage 2: the plain autoencoder (a `latlas ae train` run folder)."""
    out = workdir / f"recon-{args.preset}"
    if (run := finished_run(out)) is not None:
        times.setdefault("recon_s", round(json.loads((run / "summary.json").read_text())["train_seconds"], 1))
        return run
    flags = reconstruction_flags(args)
    flags += ["--optimizer.lr", "1e-3", "--optimizer.lr-final", "5e-5", "--checkpoint-every", "500", "--log-every", "100", "--eval-every", "1000"]
    timed("recon_s", times, lambda: latlas("ae", "train", "--data", str(data), *flags, "--output-dir", str(out), "--no-progress"))
    return finished_run(out)


def decoder_flags(args: argparse.Namespace) -> list[str]:
    """The `latlas ae train` flags of stage 2b (after --init), which the model card quotes."""
    flags = ["--init-parts", "matching", "--train-parts", "decoder", "--crop", "64", "--batch-size", "8", "--background", "varied"]
    flags += ["--max-steps", str(args.decoder_steps), "--optimizer.lr", str(args.decoder_lr), "--optimizer.lr-final", str(args.decoder_lr_final)]
    return flags + ["--latent-std", "0"]


def train_decoder(workdir: Path, data: Path, plain: str | Path, args: argparse.Namespace, times: dict) -> Path:
    """Stage 2b: the decoder of the plain autoencoder trained on with its encoder frozen (a `latlas ae train` run folder)."""
    out = workdir / f"decoder-{args.preset}"
    if (run := finished_run(out)) is not None:
        times.setdefault("decoder_s", round(json.loads((run / "summary.json").read_text())["train_seconds"], 1))
        return run
    init = plain / "autoencoder" if isinstance(plain, Path) else plain  # a run folder, or a built-in name
    flags = ["--preset", args.preset, "--init", str(init), *decoder_flags(args), "--checkpoint-every", "500", "--log-every", "100"]
    timed("decoder_s", times, lambda: latlas("ae", "train", "--data", str(data), *flags, "--eval-every", "500", "--output-dir", str(out), "--no-progress"))
    return finished_run(out)


def igae_flags(args: argparse.Namespace) -> list[str]:
    """The `latlas igae` flags of stage 3 (after --ae), which the model card quotes."""
    flags = ["--phases.0.epochs", str(args.igae_pretrain_epochs), "--phases.1.epochs", str(args.igae_joint_epochs)]
    return flags + ["--phases.1.loss-ae", str(args.igae_loss_ae)] + (["--phases.1.no-train-encoder"] if args.igae_frozen_encoder else [])


def train_igae(workdir: Path, data: Path, plain: Path, args: argparse.Namespace, times: dict) -> Path:
    """Stage 3: IG-AE from the plain autoencoder (an `latlas igae` run folder with autoencoder/)."""
    out = workdir / f"igae-{args.preset}"
    if (run := finished_run(out)) is not None:
        times.setdefault("igae_s", round(json.loads((run / "summary.json").read_text())["train_seconds"], 1))
        return run
    flags = ["--ae", str(plain), *igae_flags(args), "--eval-views", "2"]
    timed("igae_s", times, lambda: latlas("igae", "--data", str(data), *flags, "--output-dir", str(out), "--no-progress"))
    return finished_run(out)


def reconstruction_psnr(ae: str, folder: Path) -> dict[str, float]:
    """Mean reconstruction PSNR (dB) of the autoencoder on the test views of each scene under `folder`."""
    from latent_atlas.data.loading import find_scene_folders
    from latent_atlas.evaluation.ae_ceiling import autoencoder_ceiling

    return {scene_dir.name: round(autoencoder_ceiling(ae, scene_dir), 2) for scene_dir in find_scene_folders(folder)}


def install(name: str, run: Path, card: str, data: Path) -> Path:
    """Writes a run's autoencoder into the package as float16 safetensors + config.json + MODEL_CARD.md, its latents
    standardised per channel (mean 0, std 5.5) on 64 training views spread over the scenes of `data`."""
    import torch
    from safetensors.torch import save_file

    from latent_atlas.data.scene import composite_on_background
    from latent_atlas.spaces.ae_loading import load_autoencoder
    from latent_atlas.spaces.autoencoder_kl import latent_statistics, standardize_latents
    from latent_atlas.tasks.autoencoder import gather_images, spread_images

    model = load_autoencoder(run)
    spread = spread_images(next(iter(gather_images((data,), "train").values())), 64).float() / 255.0
    rgb = composite_on_background(spread, torch.ones(3))
    mean, std = latent_statistics(model, rgb.permute(0, 3, 1, 2) * 2 - 1)
    standardize_latents(model, mean, 5.5 / std)
    model.config.scaling_factor = 1.0 / 5.5
    target = WEIGHTS / name
    target.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().half().contiguous() for k, v in model.state_dict().items()}, str(target / "diffusion_pytorch_model.safetensors"))
    (target / "config.json").write_text(json.dumps(model.config.to_diffusers_config(), indent=2))
    (target / "MODEL_CARD.md").write_text(card)
    return target


def architecture(preset: str, parameters: int) -> str:
    """One sentence on what preset `preset` is, for its model card."""
    from latent_atlas.spaces.presets import preset_config

    cfg = preset_config(preset)
    factor = cfg.downscale_factor
    channels = "-".join(str(c) for c in cfg.block_out_channels)
    encoder = (
        f"a pooled encoder (per-pixel features pooled at stride {factor} by fixed {cfg.pool_windows} Gaussian windows, so its latents move with the image)"
        if cfg.encoder_type == "pooled"
        else f"a convolutional encoder with channels {channels}"
    )
    return (
        f"An f{factor} KL autoencoder with {cfg.latent_channels} latent channels and images in [-1, 1]: our AutoencoderKL (diffusers' "
        f"layout and names) with {encoder}, a decoder with channels {channels}, one ResNet block per level, no attention, plus linear "
        f"patch paths (`patch_skip`: loads in latent-atlas, not in diffusers); {parameters / 1e6:.2f} M parameters, stored in float16."
    )


def model_card(name: str, kind: str, results: dict, args: argparse.Namespace) -> str:
    """The MODEL_CARD.md written beside shipped weights: what they are, how they were made, what they score."""
    import platform

    import torch

    scores = results.get(f"objects128_psnr_{kind}", {})
    made = "reconstruction training, then IG-AE fine-tuning" if kind == "igae" else "reconstruction training only (before IG-AE)"
    if args.plain is not None and args.decoder_steps:
        made = f"reconstruction training of a new decoder for the frozen encoder of `{args.plain}`" + (
            ", then IG-AE fine-tuning of it" if kind == "igae" else ""
        )
    command = [a for i, a in enumerate(sys.argv[1:]) if a != "--workdir" and (i == 0 or sys.argv[i] != "--workdir")]  # where it ran: not provenance
    from latent_atlas.spaces.ae_loading import load_autoencoder

    run = Path(results[f"{kind}_run"])
    parameters = sum(p.numel() for p in load_autoencoder(run).parameters())
    noise = (
        f", the posterior's log-variance starting at {args.logvar_init} (latent noise the decoder learns to tolerate)" if args.logvar_init is not None else ""
    )
    lines = [
        f"# {name}",
        "",
        f"{architecture(args.preset, parameters)} Made by {made}. Its latents are standardised per channel (mean 0, standard "
        "deviation 5.5 on training views, as Stable Diffusion's raw latents), the scale latent NeRFs' tanh(0.02 z) normalisation expects.",
        "",
        "## How it was made",
        f"`python {' '.join(['benchmarks/builtin_ae.py', *command])}`, {time.strftime('%Y-%m-%d')}, "
        f"on {platform.processor() or platform.machine()} ({cpu_model()}), torch {torch.__version__}, {torch.get_num_threads()} threads.",
        "- data (synthesized by the package, nothing downloaded): " + "; ".join(f"{k}: `latlas data synth {' '.join(v)}`" for k, v in DATA.items()),
        f"- reconstruction: `latlas ae train {' '.join(reconstruction_flags(args))}` (MSE + 1e-6 KL, Adam 1e-3 decaying to 5e-5"
        f"{noise}; started as the best linear codec of the training patches (PCA), so the networks learn what PCA cannot)"
        if args.plain is None
        else f"- encoder and latent space: the built-in `{args.plain}`'s as shipped (its MODEL_CARD.md says how they were made)"
        if args.decoder_steps
        else f"- reconstruction: the built-in `{args.plain}` as shipped (its MODEL_CARD.md says how it was made; its latents re-standardised after IG-AE)",
    ]
    if args.decoder_steps:
        lines.append(
            f"- decoder: `latlas ae train --preset {args.preset} --init {args.plain or '<reconstruction run>'} {' '.join(decoder_flags(args))}` (the encoder "
            "frozen, so the latent space and its noise stay those of the reconstruction stage; decoder tensors that --preset shapes "
            "otherwise start fresh)"
        )
    if kind == "igae":
        trained = "the decoder (the encoder frozen)" if args.igae_frozen_encoder else "the encoder and decoder"
        lines.append(
            f"- IG-AE: `latlas igae --ae <plain run> {' '.join(igae_flags(args))}` "
            f"(preset igae-cpu: Tri-Planes of the IG-AE scenes fitted to their latents, then trained jointly with {trained})"
        )
    lines += [
        "- wall time per stage (s): " + ", ".join(f"{k} {v}" for k, v in results["times_s"].items() if kind == "igae" or not k.startswith("igae")),
        "",
        "## What it scores",
        "Reconstruction PSNR (dB) on the test views of ../shared/datasets/objects128 (never trained on), composited on white: "
        + (", ".join(f"{k} {v}" for k, v in scores.items()) if scores else "not measured (the data set was absent)"),
        "",
        "## Limits",
        "Trained on synthesized objects at 64-128 px only: expect lower fidelity on photographs, text and fine natural textures.",
    ]
    if (shift := results.get(f"equivariance_{kind}")) is not None:
        lines.append(
            "Latent shift test (`benchmarks/ae_equivariance.py` on objects128 bunny + suzanne): the latents of a view moved half a latent "
            f"pixel differ from the resampled latents by {shift['encoder_error_over_std']:.2f} of their standard deviation, and resampled "
            f"latents decode at {shift['half_shift_decode_psnr']:.2f} dB (the closer to 0 and to the reconstruction PSNR, the better a "
            "latent NeRF can fit them; BENCHMARKS.md)."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=REPO / "outputs" / "builtin_ae")
    parser.add_argument("--preset", default="latlas-f8c16", choices=["latlas-f8c16", "latlas-f8c16-pooled", "latlas-f4c16-pooled", "latlas-f4c16-slim"])
    parser.add_argument("--recon-steps", type=int, default=4000)
    parser.add_argument("--logvar-init", type=float, default=None, help="posterior log-variance at the start (-1.4: latent noise of std 0.5)")
    parser.add_argument(
        "--decoder-steps",
        type=int,
        default=0,
        help="then train the decoder alone this many steps (the latent space unchanged; 1500 on the f4: +1.4-1.8 dB reconstruction, latent NeRFs decoded no better, so not shipped: BENCHMARKS.md session 21)",
    )
    parser.add_argument("--decoder-lr", type=float, default=3e-4, help="stage 2b's Adam learning rate at the start (1e-3 for a fresh decoder)")
    parser.add_argument("--decoder-lr-final", type=float, default=3e-5, help="stage 2b's learning rate at the end (exponential decay)")
    parser.add_argument(
        "--plain",
        default=None,
        help="skip stages 2-2b: IG-AE starts from this autoencoder (a built-in name or a `latlas ae train` run)",
    )
    parser.add_argument("--no-igae", action="store_true", help="ship the reconstruction-trained weights only")
    parser.add_argument("--igae-pretrain-epochs", type=float, default=16.0, help="IG-AE: epochs fitting the Tri-Planes to the latents first")
    parser.add_argument("--igae-joint-epochs", type=float, default=3.0, help="IG-AE: epochs training planes and autoencoder together")
    parser.add_argument(
        "--igae-loss-ae", type=float, default=0.1, help="IG-AE: weight of the autoencoder's own reconstruction loss in the joint epochs (the papers': 0.1)"
    )
    parser.add_argument("--igae-frozen-encoder", action="store_true", help="IG-AE's joint epochs train the decoder only (the latent space kept)")
    parser.add_argument("--install", action="store_true", help="write the weights and model cards into latent_atlas/spaces/weights")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    times_path = args.workdir / f"times-{args.preset}.json"
    times = json.loads(times_path.read_text()) if times_path.is_file() else {}
    data = make_data(args.workdir, times)
    times_path.write_text(json.dumps(times, indent=2))
    runs = {"plain": args.plain or train_reconstruction(args.workdir, data["recon"], args, times)}
    times_path.write_text(json.dumps(times, indent=2))
    if args.decoder_steps:
        runs["plain"] = train_decoder(args.workdir, data["recon"], runs["plain"], args, times)
        times_path.write_text(json.dumps(times, indent=2))
    if not args.no_igae:
        runs["igae"] = train_igae(args.workdir, data["igae"], runs["plain"], args, times)
        times_path.write_text(json.dumps(times, indent=2))
    results = {"times_s": times, **{f"{kind}_run": str(run) for kind, run in runs.items()}}
    if OBJECTS128.is_dir():
        from ae_equivariance import measure

        from latent_atlas.evaluation.ae_ceiling import views_on_white

        views = views_on_white([OBJECTS128 / "bunny", OBJECTS128 / "suzanne"], 16)
        for kind, run in runs.items():
            results[f"objects128_psnr_{kind}"] = reconstruction_psnr(str(run), OBJECTS128)
            results[f"equivariance_{kind}"] = measure(str(run), views)
    (args.workdir / f"results-{args.preset}.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    if args.install:
        for kind, run in runs.items():
            if kind == "plain" and not args.no_igae:
                continue  # the IG-AE'd weights ship (the 20-MB budget): the plain ones only when made alone
            name = args.preset if kind == "plain" else f"{args.preset}-igae"
            print(f"installed {install(name, run, model_card(name, kind, results, args), data['recon'])}")


if __name__ == "__main__":
    main()
