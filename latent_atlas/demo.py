"""`make demo`: synthesize a scene, train a NeRF on it, evaluate, render an orbit; well under 10 minutes on 2 CPU cores."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from latent_atlas.data.synth.writer import SynthConfig, synthesize
from latent_atlas.methods.registry import method_config
from latent_atlas.training.config import TrainConfig
from latent_atlas.training.evaluate import EvalConfig, evaluate_run
from latent_atlas.training.orbit import RenderConfig, render_orbit
from latent_atlas.training.trainer import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path("outputs/demo"))
    parser.add_argument("--method", default="tiny-nerf")
    parser.add_argument("--train-seconds", type=float, default=180.0)
    parser.add_argument("--resolution", type=int, default=64)
    args = parser.parse_args()

    t0 = time.perf_counter()
    data_dir = args.workdir / "data"
    print(f"[1/4] synthesizing an 'objects' scene ({args.resolution}x{args.resolution}) in {data_dir}")
    scene = synthesize(SynthConfig(output=data_dir, family="objects", num_scenes=1, resolution=args.resolution, num_train=60, num_val=5, num_test=10, seed=7))[0]

    print(f"[2/4] training {args.method} for {args.train_seconds:.0f} s")
    method = method_config(args.method)
    config = TrainConfig(method_name=args.method, method=method, data=scene, output_dir=args.workdir / "runs", max_time=args.train_seconds, eval_every=1000, experiment_name="demo")
    run_dir = Trainer(config).train()

    print("[3/4] evaluating on the test views")
    result = evaluate_run(EvalConfig(run=run_dir))
    print("[4/4] rendering an orbit")
    gif = render_orbit(RenderConfig(run=run_dir, frames=30))

    summary = json.loads((run_dir / "summary.json").read_text())
    r = result["results"]
    print()
    print("| method | steps | train s | rays/s | peak MiB | test PSNR | test SSIM |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {args.method} | {summary['steps']} | {summary['train_seconds']:.0f} | {summary['rays_per_sec']:.0f} | {summary['peak_memory_mb']:.0f} | {r['psnr']:.2f} | {r['ssim']:.3f} |")
    print()
    print(f"run folder:  {run_dir}")
    print(f"metrics:     {run_dir / 'eval' / 'metrics.json'}")
    print(f"test renders:{run_dir / 'eval' / 'renders'}")
    print(f"orbit:       {gif}")
    print(f"TensorBoard: tensorboard --logdir {run_dir}")
    print(f"demo finished in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
