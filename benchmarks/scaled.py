"""Many scenes: (1) IG-AE vs the plain autoencoder, (2) Scaled-IG stage 2 vs independent RGB Tri-Planes.

    python benchmarks/scaled.py --ae outputs/benchmarks/latent-bench/ae-tiny/<timestamp> --sizes 16

1. IG-AE is trained (igae-cpu) from the plain autoencoder on the first --igae-scenes scenes of
   ../shared/datasets/cars64; then latent Tri-Planes of the held-out scenes are trained with each
   autoencoder (frozen) and their decoded PSNR compared (IG-AE's claim: higher with IG-AE).
2. Stage 1 (scale-stage1-cpu) learns the macro basis on the same scenes with the IG-AE autoencoder;
   for each size N, N new cars are synthesized and learned by stage 2 and by independent RGB
   Tri-Planes, one run per --stage-epochs / --rgb-epochs value (a stage-2 value is "L" for L latent +
   L decoded epochs, "L+D" for D decoded epochs, "L+D/C" to decode C x C-latent crops of each view, "L+D/C@R" to render R
   random latent pixels of each view per step in the latent phase). For every stage-2 run: the per-scene
   time RGB Tri-Planes need to reach its PSNR (interpolated between the RGB runs that bracket it),
   and per-scene memory.

   python benchmarks/scaled.py --ae AE --sizes 256 --stage-epochs 1 2 5 --rgb-epochs 0.5 1 --igae-run IGAE --stage1-run STAGE1
   python benchmarks/scaled.py --ae AE --sizes 16 --stage-epochs 2+2 2+1 2+2/16 --rgb-epochs 4 8 --igae-run IGAE --stage1-run STAGE1

   With the built-in autoencoder, IG-AE'd already (part 1 skipped; stage 1 starts from it):

   python benchmarks/scaled.py --ae latlas-f4c16-slim-igae --skip-igae --resolution 128 --sizes 16 64 --stage1-seconds 900 --rgb-epochs 4 8 12
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_line  # noqa: E402
from train_budget import latlas  # noqa: E402

CARS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cars64"


def read_summary(run_dir: Path) -> dict:
    """A multi-scene run's summary.json, with its run folder."""
    return {"run_dir": str(run_dir), **json.loads((run_dir / "summary.json").read_text())}


def run(*args: str, reuse: bool) -> dict:
    """Runs a multi-scene latlas command; returns its summary (with `reuse`, that of a finished run of the same experiment if there is one)."""
    flags = dict(zip(args, args[1:]))
    done = sorted(Path(flags["--output-dir"]).glob(f"{flags['--experiment-name']}/*/*/summary.json"))
    if done and reuse:
        print(f"reusing {done[-1].parent}", flush=True)
        return read_summary(done[-1].parent)
    out = latlas(*args, "--no-progress")
    return read_summary(Path(out.strip().splitlines()[-1].split("run folder: ")[1]))


def activations_key(*summaries: dict) -> str:
    """The activation measure all `summaries` have: bytes saved for backward, else (older runs) RSS growth."""
    if all(s.get("saved_activations_per_scene_mb") for s in summaries):
        return "saved_activations_per_scene_mb"
    return "peak_activations_per_scene_mb"


def memory_with_activations_ratio(latent: dict, rgb: dict) -> float:
    """Per-scene parameters + Adam state + activations (MiB), latent run over RGB run, on one activation measure."""
    key = activations_key(latent, rgb)
    return (latent["scene_memory_mb"] + latent[key]) / (rgb["scene_memory_mb"] + rgb[key])


def cached_latents(summary: dict) -> str:
    """The note " (N of M splits' latents cached)" when a run read some encodings from the cache, else ""."""
    splits = summary.get("encoded_splits")
    if splits and splits["cached"]:
        return f" ({splits['cached']} of {splits['cached'] + splits['encoded']} splits' latents cached)"
    return ""


def preparation(summary: dict) -> str:
    """Seconds per scene a run spent reading its views (and encoding them), and whether encodings came from the cache."""
    seconds = summary.get("prepare_seconds_per_scene")
    return "-" if seconds is None else f"{seconds:.2f}{cached_latents(summary)}"


def phase_split(summary: dict) -> str:
    """A stage-2 run's training seconds per scene as "latent / decoded" phase, cut at the last logged step of phase 0."""
    metrics = Path(summary["run_dir"]) / "metrics.jsonl"
    if not metrics.is_file():
        return "-"
    latent = [row["train_seconds"] for row in map(json.loads, metrics.read_text().splitlines()) if row.get("phase") == 0 and "train_seconds" in row]
    if not latent or not summary.get("train_seconds"):
        return "-"
    share = latent[-1] / summary["train_seconds"]
    per_scene = summary["train_seconds_per_scene"]
    return f"{share * per_scene:.2f} / {(1 - share) * per_scene:.2f}"


def stage2_schedule(spec: str) -> tuple[float, float, int, int]:
    """(latent epochs, decoded epochs, decoded crop, latent rays per view) of a --stage-epochs value: "2", "2+1", "2+2/16" or "8+4/16@256"."""
    spec, _, rays = spec.partition("@")
    schedule, _, crop = spec.partition("/")
    latent, _, decoded = schedule.partition("+")
    return float(latent), float(decoded or latent), int(crop or 0), int(rays or 0)


def schedule_name(latent: float, decoded: float, crop: int, rays: int) -> str:
    """How a stage-2 schedule reads in tables: "2 + 1 epochs", "8 + 4 epochs, 16 x 16 crops, 256 latent rays / view"."""
    return f"{latent:g} + {decoded:g} epochs" + (f", {crop} x {crop} crops" if crop else "") + (f", {rays} latent rays / view" if rays else "")


def time_to_psnr(runs: list[dict], target: float) -> str:
    """Per-scene seconds at which RGB runs of increasing length reach `target` PSNR (linear between bracketing runs)."""
    points = sorted((r["train_seconds_per_scene"], r["eval"]["psnr_e"]) for r in runs)
    if points[0][1] >= target:
        return f"<= {points[0][0]:.2f}"
    for (t0, p0), (t1, p1) in zip(points, points[1:]):
        if p0 < target <= p1:
            return f"{t0 + (t1 - t0) * (target - p0) / (p1 - p0):.2f}"
    return f"> {points[-1][0]:.2f}"


def time_ratio(mine: float, theirs: str, theirs_extra: float = 0.0) -> str:
    """`mine` seconds over RGB's time_to_psnr text (plus `theirs_extra` seconds), e.g. "0.50x"; a bound the other way
    round where RGB's is one ("<= t" gives ">= r", "> t" gives "< r"), rounded so that it stays true (down for ">=",
    up for "<")."""
    bound, _, value = theirs.rpartition(" ")
    ratio = mine / (float(value) + theirs_extra)
    rounded = {"": round(ratio, 2), "<=": math.floor(ratio * 100) / 100, ">": math.ceil(ratio * 100) / 100}[bound]
    return {"": "", "<=": ">= ", ">": "< "}[bound] + f"{rounded:.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ae", required=True, help="the plain autoencoder: a `latlas ae train` run folder or any --ae value (e.g. latlas-f4c16-pooled)")
    parser.add_argument(
        "--data", type=Path, default=CARS, help="the cars family for IG-AE, stage 1 and the held-out scenes (default ../shared/datasets/cars64)"
    )
    parser.add_argument("--resolution", type=int, default=64, help="pixels per side of the synthesized cars of stage 2 (128: 16x16 latents at f8)")
    parser.add_argument("--igae-scenes", type=int, default=12)
    parser.add_argument("--igae-seconds", type=float, default=300)
    parser.add_argument(
        "--stage1-seconds",
        type=float,
        help="time limit of stage 1 (default: --igae-seconds; 1200 s: +0.6-0.7 dB in stage 2 at equal time, BENCHMARKS.md session 26)",
    )
    parser.add_argument("--igae-epochs", type=float, default=8, help="epochs of each IG-AE / stage-1 phase (pretrain, joint)")
    parser.add_argument("--igae-run", type=Path, help="reuse this IG-AE run folder instead of training one")
    parser.add_argument(
        "--skip-igae",
        action="store_true",
        help="--ae is IG-AE'd already (the built-in latlas-*-igae weights): stage 1 starts from it; part 1 (IG-AE vs plain) is not run",
    )
    parser.add_argument("--stage1-run", type=Path, help="reuse this stage-1 run folder instead of training one")
    parser.add_argument("--rgb-sizes", type=int, nargs="*", help="sizes that also get RGB Tri-Planes (default: all)")
    parser.add_argument(
        "--rgb-epochs", type=float, nargs="+", help="epochs of each RGB Tri-Planes run (default: L + D and 2 (L + D) of the longest --stage-epochs)"
    )
    parser.add_argument("--heldout-epochs", type=float, default=20)
    parser.add_argument("--sizes", type=int, nargs="+", default=[16])
    parser.add_argument(
        "--stage-epochs",
        nargs="+",
        default=["8+4/16@256"],
        help='epochs of each stage-2 phase, one run per value: "L" (L latent + L decoded epochs), "L+D" (D decoded epochs) or "L+D/C" '
        '(the decoded phase renders and decodes C x C-latent crops of each view) or "L+D/C@R" (the latent phase renders R random latent pixels '
        "of each view instead of all; default: scale-stage2-cpu's 8 + 4 epochs, 256 latent rays per view, 16 x 16 crops)",
    )
    parser.add_argument(
        "--samples",
        type=int,
        nargs=2,
        metavar=("STRATIFIED", "IMPORTANCE"),
        help="samples per ray of every stage-2 and RGB Tri-Planes run (default: each preset's; run names get an -sSxI suffix)",
    )
    parser.add_argument(
        "--micro-macro",
        type=int,
        nargs=2,
        metavar=("MICRO", "MACRO"),
        help="channels of each scene's micro planes and of the shared macro planes, in stage 1 and stage 2 (default: the preset's 6 + 10; "
        "stage-1 and stage-2 run names get an -mMxN suffix)",
    )
    parser.add_argument(
        "--stage2-flags",
        metavar="NAME=FLAGS",
        help='more `latlas scale stage2` flags for every stage-2 run, e.g. "macro=--phases.0.train-macro --phases.1.train-macro" '
        "(run names get a -NAME suffix, schedules a NAME label)",
    )
    parser.add_argument(
        "--run-flags",
        help='more flags for every stage-2 and RGB Tri-Planes run alike, e.g. "--scenes-per-batch 16" on a GPU (run names unchanged: use another --output-dir)',
    )
    parser.add_argument("--num-train", type=int, default=20, help="training views of each synthesized car")
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/benchmarks/scaled"))
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="train every run again (default: reuse finished runs of the same experiment name; names carry the size and RGB epochs, not other settings)",
    )
    args = parser.parse_args()
    reuse = not args.fresh
    samples = ["--n-samples", str(args.samples[0]), "--n-importance", str(args.samples[1])] if args.samples else []
    samples_tag = f"-s{args.samples[0]}x{args.samples[1]}" if args.samples else ""
    planes = ["--micro-macro.micro-channels", str(args.micro_macro[0]), "--micro-macro.macro-channels", str(args.micro_macro[1])] if args.micro_macro else []
    planes_tag = f"-m{args.micro_macro[0]}x{args.micro_macro[1]}" if args.micro_macro else ""
    variant, _, variant_flags = (args.stage2_flags or "").partition("=")
    both = shlex.split(args.run_flags or "")
    out = str(args.output_dir)
    cars = args.data

    # 1. IG-AE vs the plain autoencoder on held-out scenes
    igae_length = ["--phases.0.epochs", str(args.igae_epochs), "--phases.1.epochs", str(args.igae_epochs), "--max-time", str(args.igae_seconds)]
    rows1 = []
    if args.skip_igae:
        igae = {"run_dir": str(args.ae)}
    elif args.igae_run:
        igae = read_summary(args.igae_run)
    else:
        igae = run(
            "igae",
            "--data",
            str(cars),
            "--num-scenes",
            str(args.igae_scenes),
            "--ae",
            str(args.ae),
            *igae_length,
            "--output-dir",
            out,
            "--experiment-name",
            "igae",
            reuse=reuse,
        )
    if not args.skip_igae:
        print(f"IG-AE: {igae['run_dir']} ({igae['steps']} steps, {igae['train_seconds']:.0f} s)", flush=True)
    for name, ae in () if args.skip_igae else (("plain", str(args.ae)), ("IG-AE", igae["run_dir"])):
        s = run(
            "triplanes",
            "--data",
            str(cars),
            "--first-scene",
            str(args.igae_scenes),
            "--space",
            "latent",
            "--ae",
            ae,
            "--rays-per-view",
            "0",
            "--phases.0.epochs",
            str(args.heldout_epochs),
            "--eval-views",
            "10",
            "--output-dir",
            out,
            "--experiment-name",
            f"heldout-{name}",
            reuse=reuse,
        )
        rows1.append((name, s))
        print(f"held-out latent Tri-Planes with the {name} autoencoder: {s['run_dir']} decoded PSNR {s['eval']['psnr_d']:.2f}", flush=True)

    # 2. stage 1 on the IG-AE scenes, then stage 2 vs RGB Tri-Planes on new synthesized cars
    if args.stage1_run:
        stage1 = {"run_dir": str(args.stage1_run)}
    else:
        stage1 = run(
            "scale",
            "stage1",
            "--data",
            str(cars),
            "--num-scenes",
            str(args.igae_scenes),
            "--ae",
            igae["run_dir"],
            *igae_length[:-1],
            str(args.stage1_seconds or args.igae_seconds),
            *planes,
            "--output-dir",
            out,
            "--experiment-name",
            (f"stage1-{args.stage1_seconds:g}s" if args.stage1_seconds else "stage1") + planes_tag,
            reuse=reuse,
        )
    print(f"stage 1: {stage1['run_dir']}", flush=True)
    rows2 = []
    data = args.output_dir / f"cars_{max(args.sizes)}_{args.resolution}px"  # one family; each size takes its first N scenes (same seed: same cars)
    if not (data / "dataset_map.json").is_file():
        latlas(
            "data",
            "synth",
            "--family",
            "cars",
            "--num-scenes",
            str(max(args.sizes)),
            "--output",
            str(data),
            "--resolution",
            str(args.resolution),
            "--num-train",
            str(args.num_train),
            "--num-val",
            "2",
            "--num-test",
            "5",
            "--seed",
            "100",
            "--resume",  # a killed benchmark's cars are kept
        )
    for size in sorted(args.sizes):
        stage2s = []
        for spec in args.stage_epochs:
            latent_epochs, decoded_epochs, crop, rays = stage2_schedule(spec)
            tag = f"e{latent_epochs:g}" + (f"-d{decoded_epochs:g}" if decoded_epochs != latent_epochs else "") + (f"-c{crop}" if crop else "")
            tag += f"-r{rays}" if rays else ""
            s2 = run(
                "scale",
                "stage2",
                "--data",
                str(data),
                "--num-scenes",
                str(size),
                "--init",
                stage1["run_dir"],
                "--phases.0.epochs",
                str(latent_epochs),
                "--phases.1.epochs",
                str(decoded_epochs),
                "--decoded-crop",
                str(crop),
                "--rays-per-view",
                str(rays),
                "--eval-views",
                "5",
                *samples,
                *planes,
                *shlex.split(variant_flags),
                *both,
                "--output-dir",
                out,
                "--experiment-name",
                f"stage2-{size}-{tag}{samples_tag}{planes_tag}" + (f"-{variant}" if variant else ""),
                reuse=reuse,
            )
            s2["schedule"] = schedule_name(latent_epochs, decoded_epochs, crop, rays) + (f", {variant}" if variant else "")
            print(
                f"stage 2, {size} scenes, {s2['schedule']}: {s2['run_dir']} decoded PSNR {s2['eval']['psnr_d']:.2f}, {s2['train_seconds_per_scene']:.1f} s / scene",
                flush=True,
            )
            stage2s.append(s2)
        rgbs = []
        if args.rgb_sizes is None or size in args.rgb_sizes:
            longest = max(sum(stage2_schedule(spec)[:2]) for spec in args.stage_epochs)
            for epochs in args.rgb_epochs or [longest, 2 * longest]:
                rgb = run(
                    "triplanes",
                    "--data",
                    str(data),
                    "--num-scenes",
                    str(size),
                    "--phases.0.epochs",
                    str(epochs),
                    "--eval-views",
                    "5",
                    *samples,
                    *both,
                    "--output-dir",
                    out,
                    "--experiment-name",
                    f"rgb-{size}-e{epochs:g}{samples_tag}",
                    reuse=reuse,
                )
                rgb["epochs"] = epochs
                print(
                    f"RGB Tri-Planes, {size} scenes, {epochs:g} epochs: {rgb['run_dir']} PSNR {rgb['eval']['psnr_e']:.2f}, {rgb['train_seconds_per_scene']:.1f} s / scene",
                    flush=True,
                )
                rgbs.append(rgb)
        rows2.append((size, stage2s, rgbs))

    scenes = (
        f"IG-AE'd AE: {args.ae} | {cars.name} scenes [0, {args.igae_scenes}) for stage 1"
        if args.skip_igae
        else f"plain AE: {args.ae} | {cars.name} scenes [0, {args.igae_scenes}) for IG-AE / stage 1, [{args.igae_scenes}, {len(json.loads((cars / 'dataset_map.json').read_text())['cars'])}) held out"
    )
    print(machine_line())
    print(
        f"# {time.strftime('%Y-%m-%d')} | {scenes}; stage-2 cars at {args.resolution} px; "
        f"samples per ray: {' + '.join(map(str, args.samples)) if args.samples else 'preset defaults'}; "
        f"micro + macro channels: {' + '.join(map(str, args.micro_macro)) if args.micro_macro else 'preset defaults'}"
        + (f"; every run: {args.run_flags}" if args.run_flags else "")
    )
    if rows1:
        print("| autoencoder | held-out scenes | decoded PSNR | latent PSNR | AE ceiling PSNR |")
        print("|---|---|---|---|---|")
        for name, s in rows1:
            e = s["eval"]
            print(f"| {name} | {s['scenes']} | {e['psnr_d']:.2f} | {e['psnr_e']:.2f} | {e['psnr_ae']:.2f} |")
        print()
    print(
        "| scenes | method | PSNR (RGB) | train s / scene | latent / decoded phase s / scene | + reading (and encoding) s / scene | parameters / scene | params + Adam / scene (MiB) "
        "| saved activations / scene (MiB) | RSS growth / scene (MiB) | process peak RSS (MiB) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for size, stage2s, rgbs in rows2:
        rows = [(f"stage 2 (latent, micro-macro), {s['schedule']}", s, "psnr_d", phase_split(s)) for s in stage2s]
        rows += [(f"RGB Tri-Planes, {r['epochs']:g} epochs", r, "psnr_e", "-") for r in rgbs]
        for name, s, key, split in rows:
            print(
                f"| {size} | {name} | {s['eval'][key]:.2f} | {s['train_seconds_per_scene']:.2f} | {split} | {preparation(s)} | {s['scene_parameters']:.0f} | {s['scene_memory_mb']:.2f} "
                f"| {s.get('saved_activations_per_scene_mb', float('nan')):.1f} | {s['peak_activations_per_scene_mb']:.1f} | {s['peak_memory_mb']:.0f} |"
            )
    print()
    print(
        "| scenes | stage 2 epochs | stage 2 decoded PSNR | stage 2 s / scene | RGB s / scene to that PSNR | time ratio (stage 2 / RGB) "
        "| with reading and encoding | params + Adam per scene | + activations per scene |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for size, stage2s, rgbs in rows2:
        for s2 in stage2s if rgbs else []:
            target, mine = s2["eval"]["psnr_d"], s2["train_seconds_per_scene"]
            theirs = time_to_psnr(rgbs, target)
            with_data = "-" + cached_latents(s2)
            if "prepare_seconds_per_scene" in s2 and "prepare_seconds_per_scene" in rgbs[0] and with_data == "-":
                with_data = time_ratio(mine + s2["prepare_seconds_per_scene"], theirs, rgbs[0]["prepare_seconds_per_scene"])
            print(
                f"| {size} | {s2['schedule']} | {target:.2f} | {mine:.2f} | {theirs} | {time_ratio(mine, theirs)} | {with_data} "
                f"| {s2['scene_memory_mb'] / rgbs[0]['scene_memory_mb']:.2f}x | {memory_with_activations_ratio(s2, rgbs[0]):.2f}x ({activations_key(s2, rgbs[0]).split('_')[0]}) |"
            )


if __name__ == "__main__":
    main()
