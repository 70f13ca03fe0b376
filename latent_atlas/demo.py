"""`make demo`: synthesize scenes, train a tiny autoencoder, then an RGB NeRF and a latent NeRF of the same
scene; evaluate both, render an orbit; under 10 minutes on 2 CPU cores."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from latent_atlas.data.synth.writer import SynthConfig, synthesize
from latent_atlas.evaluation.evaluate import EvalConfig, evaluate_run
from latent_atlas.evaluation.render import RenderConfig, render_video
from latent_atlas.methods.registry import method_config
from latent_atlas.tasks.autoencoder import AETrainConfig, AETrainer
from latent_atlas.tasks.scene import SceneTask
from latent_atlas.tasks.scene_config import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path("outputs/demo"))
    parser.add_argument("--method", default="tiny-nerf")
    parser.add_argument("--train-seconds", type=float, default=120.0, help="for each of the two NeRFs")
    parser.add_argument("--ae-seconds", type=float, default=120.0)
    parser.add_argument("--scenes", type=int, default=4, help="scenes synthesized (the autoencoder sees all; NeRFs learn the first)")
    parser.add_argument("--resolution", type=int, default=64)
    args = parser.parse_args()

    t0 = time.perf_counter()
    data_dir = args.workdir / "data"
    print(f"[1/6] synthesizing {args.scenes} 'objects' scenes ({args.resolution}x{args.resolution}) in {data_dir}")
    scenes = synthesize(
        SynthConfig(output=data_dir, family="objects", num_scenes=args.scenes, resolution=args.resolution, num_train=60, num_val=5, num_test=10, seed=7)
    )
    scene = scenes[0]

    print(f"[2/6] training a tiny autoencoder on their images for {args.ae_seconds:.0f} s")
    ae_run = AETrainer(
        AETrainConfig(data=(data_dir,), preset="tiny", max_steps=100_000, max_time=args.ae_seconds, output_dir=args.workdir / "runs", experiment_name="demo")
    ).train()

    rows = []
    runs = (("rgb", {}), ("latent", {"space": "latent", "ae": str(ae_run), "background": "white"}))
    for step, (space, extra) in enumerate(runs, start=3):
        print(f"[{step}/6] training {args.method} in {space} space for {args.train_seconds:.0f} s")
        config = TrainConfig(
            method_name=args.method,
            method=method_config(args.method),
            data=scene,
            output_dir=args.workdir / "runs",
            max_time=args.train_seconds,
            eval_every=1000,
            experiment_name=f"demo-{space}",
            **extra,
        )
        run_dir = SceneTask(config).train()
        result = evaluate_run(EvalConfig(run=run_dir))
        rows.append((space, run_dir, json.loads((run_dir / "summary.json").read_text()), result["results"]))

    print("[5/6] evaluated both on the test views")
    print("[6/6] rendering a spiral video of the latent NeRF: decoded RGB, depth and latent channels")
    video = render_video(RenderConfig(run=rows[1][1], path="spiral", outputs=("rgb", "depth", "latent"), seconds=3.0))

    ae_summary = json.loads((ae_run / "summary.json").read_text())
    print()
    print(
        "| space | method | steps | train s | rays/s | peak MiB | test PSNR (RGB) | test SSIM (RGB) | PSNR in its space (metrics_e) | AE ceiling PSNR (metrics_ae) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for space, _, summary, r in rows:
        latent = f"{r['metrics_e']['psnr']:.2f}" if "metrics_e" in r else "-"
        ceiling = f"{r['metrics_ae']['psnr']:.2f}" if "metrics_ae" in r else "-"
        print(
            f"| {space} | {args.method} | {summary['steps']} | {summary['train_seconds']:.0f} | {summary['rays_per_sec']:.0f} | {summary['peak_memory_mb']:.0f} | {r['psnr']:.2f} | {r['ssim']:.3f} | {latent} | {ceiling} |"
        )
    print()
    print(
        f"autoencoder: {ae_run / 'autoencoder'} ({ae_summary['steps']} steps in {ae_summary['train_seconds']:.0f} s, val reconstruction PSNR {ae_summary['val_psnr']:.2f} dB)"
    )
    for space, run_dir, _, _ in rows:
        print(f"{space} run:  {run_dir} (metrics: eval/metrics.json, renders: eval/renders)")
    print(f"video:       {video}")
    print(f"TensorBoard: tensorboard --logdir {args.workdir / 'runs'}")
    print(f"demo finished in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
