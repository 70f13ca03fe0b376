"""`make demo`: synthesize a scene, learn it with an RGB NeRF and with a latent NeRF in the built-in autoencoder's
space (latlas-f4c16-slim-igae, shipped with the package); evaluate both, render an orbit; under 10 minutes on 2 CPU cores."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from latent_atlas.cli.main import device_type_of, parse_flags
from latent_atlas.data.synth.writer import SynthConfig, synthesize
from latent_atlas.engine.device import tune_allocator
from latent_atlas.evaluation.ae_ceiling import autoencoder_ceiling
from latent_atlas.evaluation.evaluate import EvalConfig, evaluate_run
from latent_atlas.evaluation.render import RenderConfig, render_video
from latent_atlas.methods.defaults import device_flags
from latent_atlas.methods.registry import method_config
from latent_atlas.spaces.presets import BUILTIN_AE
from latent_atlas.tasks.scene import SceneTask
from latent_atlas.tasks.scene_config import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path("outputs/demo"))
    parser.add_argument("--method", default="tiny-nerf")
    parser.add_argument("--train-seconds", type=float, default=120.0, help="for each of the two NeRFs")
    parser.add_argument("--ae", default=BUILTIN_AE, help="the latent NeRF's autoencoder (any --ae value)")
    parser.add_argument("--resolution", type=int, default=128, help="pixels per side (128: 32 x 32 latents)")
    args = parser.parse_args()
    tune_allocator()  # as `latlas` does: training steps reuse freed memory instead of faulting it in again

    t0 = time.perf_counter()
    data_dir = args.workdir / "data"
    print(f"[1/5] synthesizing an 'objects' scene ({args.resolution}x{args.resolution}) in {data_dir}")
    synth = SynthConfig(output=data_dir, family="objects", num_scenes=1, resolution=args.resolution, num_train=60, num_val=5, num_test=10, seed=7)
    scene = synthesize(synth)[0]

    rows = []
    runs = (("rgb", {}), ("latent", {"space": "latent", "ae": args.ae, "background": "white"}))
    for step, (space, extra) in enumerate(runs, start=2):
        print(f"[{step}/5] training {args.method} in {space} space for {args.train_seconds:.0f} s")
        default = TrainConfig(
            method_name=args.method,
            method=method_config(args.method),
            data=scene,
            output_dir=args.workdir / "runs",
            max_time=args.train_seconds,
            eval_every=1000,
            experiment_name=f"demo-{space}",
            **extra,
        )
        flags = device_flags(args.method, device_type_of([]), space)  # as `latlas train` would start it
        if flags:
            print(f"      with the defaults {' '.join(flags)}")
        config = parse_flags(TrainConfig, default=default, args=list(flags), prog="demo")
        run_dir = SceneTask(config).train()
        result = evaluate_run(EvalConfig(run=run_dir))
        rows.append((space, run_dir, json.loads((run_dir / "summary.json").read_text()), result["results"]))

    ceiling = autoencoder_ceiling(args.ae, scene)
    print(f"[4/5] evaluated both on the test views; {args.ae} as shipped reconstructs them at {ceiling:.2f} dB")
    print("[5/5] rendering a spiral video of the latent NeRF: decoded RGB, depth and latent channels")
    video = render_video(RenderConfig(run=rows[1][1], path="spiral", outputs=("rgb", "depth", "latent"), seconds=3.0))

    print()
    print(
        "| space | method | steps | train s | rays/s | peak MiB | test PSNR (RGB) | test SSIM (RGB) | PSNR in its space (metrics_e) | AE reconstruction, decoder fine-tuned (metrics_ae) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for space, _, summary, r in rows:
        latent = f"{r['metrics_e']['psnr']:.2f}" if "metrics_e" in r else "-"
        tuned = f"{r['metrics_ae']['psnr']:.2f}" if "metrics_ae" in r else "-"
        print(
            f"| {space} | {args.method} | {summary['steps']} | {summary['train_seconds']:.0f} | {summary['rays_per_sec']:.0f} | {summary['peak_memory_mb']:.0f} | {r['psnr']:.2f} | {r['ssim']:.3f} | {latent} | {tuned} |"
        )
    print()
    print(f"autoencoder: {args.ae}: as shipped it reconstructs the test views at {ceiling:.2f} dB, the latent NeRF's ceiling")
    print("             (metrics_ae: the same with the run's decoder, fine-tuned on renders in the decoded phase)")
    for space, run_dir, _, _ in rows:
        print(f"{space} run:  {run_dir} (metrics: eval/metrics.json, renders: eval/renders)")
    print(f"video:       {video}")
    print(f"TensorBoard: tensorboard --logdir {args.workdir / 'runs'}")
    print(f"demo finished in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
