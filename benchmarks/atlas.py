"""NeRF Atlas: every model and option at one fixed CPU budget, in RGB and in a latent space, side by side.

    python benchmarks/atlas.py                       # 90 s per run, trains its own tiny autoencoder first
    python benchmarks/atlas.py --budget 120 --ae RUN # with a `latlas ae train` run folder

Scenes: ../shared/datasets/objects128/bunny (static models and options), a synthesized static scene
(`latlas data synth`, 128 px: VolSDF's mesh and a NeRF density mesh scored by Chamfer distance against its
analytic surface), and a synthesized dynamic scene (`--family dynamic`, 128 px: dnerf, kplanes-dynamic and a
static tiny-nerf). Every run is `latlas train` with the CPU defaults, --max-time BUDGET, then `latlas eval` on
the first --eval-images test views (latent runs: the decoded PSNR, metrics_d). The autoencoder is trained on
synthesized scenes only (never on ../shared/datasets).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import machine_line  # noqa: E402
from train_budget import latlas, print_table, run_method  # noqa: E402

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"

WHITE = ["--background", "white"]
STATIC_CASES: dict[str, tuple[str, list[str]]] = {  # name: (method, flags)
    "tiny-nerf": ("tiny-nerf", WHITE),
    "mip cone (tiny-nerf)": ("tiny-nerf", [*WHITE, "--model.mip", "cone"]),
    "fourier features (tiny-nerf)": ("tiny-nerf", [*WHITE, "--model.field.position-encoding", "fourier"]),
    "siren (tiny-nerf)": ("tiny-nerf", [*WHITE, "--model.field.position-encoding", "siren"]),
    "hash grid (tiny-nerf)": ("tiny-nerf", [*WHITE, "--model.field.position-encoding", "hash"]),
    "volsdf": ("volsdf", []),
    "nerf-ae": ("nerf-ae", []),
    "upsampling x2 (tiny-nerf)": ("tiny-nerf", [*WHITE, "--upsampling.factor", "2", "--sampler", "patches", "--patch-size", "16", "--rays-per-batch", "4096"]),
    "learned background (tiny-nerf)": ("tiny-nerf", ["--background", "learned"]),
    "ssim + l1 loss (tiny-nerf)": ("tiny-nerf", [*WHITE, "--losses", "l1:1.0", "ssim:0.2", "--sampler", "patches", "--patch-size", "16"]),
}
MESH_CASES: dict[str, tuple[str, list[str]]] = {"volsdf": ("volsdf", []), "tiny-nerf": ("tiny-nerf", WHITE)}
DYNAMIC_CASES: dict[str, tuple[str, list[str]]] = {
    "dnerf": ("dnerf", []),
    "kplanes-dynamic": ("kplanes-dynamic", []),
    "tiny-nerf (static)": ("tiny-nerf", WHITE),
}


def synth(output: Path, *flags: str) -> Path:
    """A `latlas data synth` scene (written once; reused when present)."""
    if not (output / "scene_000" / "transforms_train.json").is_file():
        latlas("data", "synth", "--output", str(output), *flags)
    return output / "scene_000"


def chamfer(run_dir: Path, scene: Path, resolution: int) -> float | str:
    """Chamfer distance (mean of accuracy and completeness, scene units) of the run's exported mesh to the scene's
    true surface ('no surface' when the field never reaches the export level)."""
    import torch

    from latent_atlas.data.synth.sdf import PRIMITIVES_FILE, load_primitives, scene_sdf
    from latent_atlas.evaluation.mesh_export import chamfer_to_sdf
    from latent_atlas.evaluation.ply import read_ply

    mesh = run_dir / "export" / "mesh.ply"
    try:
        latlas("export", "mesh", "--run", str(run_dir), "--resolution", str(resolution), "--output", str(mesh))
    except SystemExit:
        return "no surface"
    prims, scale = load_primitives(scene / PRIMITIVES_FILE)
    vertices, faces = read_ply(mesh)
    box = torch.full((3,), -1.0), torch.full((3,), 1.0)
    return chamfer_to_sdf(vertices, faces, lambda p: scene_sdf(p, prims, scale)[0], *box)["chamfer"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=90.0, help="training seconds per run")
    parser.add_argument("--eval-images", type=int, default=10)
    parser.add_argument("--data", type=Path, default=DATASETS / "objects128" / "bunny")
    parser.add_argument("--ae", type=Path, help="a `latlas ae train` run folder (default: train a tiny one on synthesized scenes)")
    parser.add_argument("--train-ae-seconds", type=float, default=480.0)
    parser.add_argument("--spaces", nargs="+", default=["rgb", "latent"], choices=["rgb", "latent"])
    parser.add_argument("--only", nargs="*", help="run only these case names")
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/benchmarks/atlas"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--previous", type=Path, help="this script's earlier output: rows found there (JSON lines) are kept, not rerun")
    args = parser.parse_args()
    out = args.output_dir
    static_synth = synth(out / "synth-static", "--resolution", "128", "--num-train", "100", "--num-val", "5", "--num-test", "10", "--seed", "11")
    dynamic = synth(
        out / "synth-dynamic", "--family", "dynamic", "--resolution", "128", "--num-train", "100", "--num-val", "5", "--num-test", "10", "--seed", "12"
    )

    ae = args.ae
    if ae is None and "latent" in args.spaces:
        family = out / "ae-data"
        if not (family / "dataset_map.json").is_file():
            latlas(
                "data",
                "synth",
                "--output",
                str(family),
                "--num-scenes",
                "12",
                "--resolution",
                "128",
                "--num-train",
                "40",
                "--num-val",
                "4",
                "--num-test",
                "4",
                "--seed",
                "21",
            )
        stdout = latlas(
            "ae", "train", "--data", str(family), "--preset", "tiny", "--max-time", str(args.train_ae_seconds), "--max-steps", "1000000",
            "--output-dir", str(out), "--no-progress",
        )  # fmt: skip
        ae = Path(stdout.strip().splitlines()[-1].split("run folder: ")[1])

    spaces = {"rgb": [], "latent": ["--space", "latent", "--ae", str(ae)]}
    done = {}
    if args.previous is not None:
        for line in args.previous.read_text().splitlines():
            if line.startswith("{"):
                row = json.loads(line)
                done[(row["scene"], row["case"], row["space"])] = row
    rows = []
    for scene_name, scene, cases in (("bunny", args.data, STATIC_CASES), ("synth static", static_synth, MESH_CASES), ("synth dynamic", dynamic, DYNAMIC_CASES)):
        for case, (method, flags) in cases.items():
            if args.only and case not in args.only:
                continue
            for space in args.spaces:
                if (scene_name, case, space) in done:
                    rows.append(done[(scene_name, case, space)])
                    continue
                try:
                    row = run_method(method, scene, [args.budget], out / space, args.eval_images, flags + spaces[space])[-1]
                except SystemExit as failure:  # e.g. the collapse guard stopped it: a row that says so
                    reason = str(failure).strip().splitlines()[-1].removeprefix("latlas: error: ")
                    rows.append({"case": case, "scene": scene_name, "space": space, "test_psnr": f"failed: {reason[:90]}"})
                    print(json.dumps(rows[-1]), flush=True)
                    continue
                row.update({"case": case, "scene": scene_name, "space": space})
                if scene_name == "synth static":
                    distance = chamfer(Path(row["run_dir"]), scene, 128)
                    row["chamfer"] = round(distance, 4) if isinstance(distance, float) else distance
                rows.append(row)
                print(json.dumps(row), flush=True)

    print(machine_line())
    if ae is not None:
        ae_summary = json.loads((Path(ae) / "summary.json").read_text())
        print(
            f"# autoencoder: {ae_summary['preset']}, {ae_summary['steps']} steps, {ae_summary['train_seconds']:.0f} s on synthesized scenes, val PSNR {ae_summary['val_psnr']:.2f} dB"
        )
    print(f"# budget {args.budget:.0f} s per run, {args.eval_images} test views; latent rows: decoded PSNR (metrics_d), metrics_ae = the autoencoder's ceiling")
    header = ["scene", "case", "space", "steps", "steps_per_s", "test_psnr", "test_ssim", "metrics_ae_psnr", "peak_mem_mb", "chamfer"]
    print_table(rows, header)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
