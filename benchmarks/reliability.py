"""Reliability drill: the bad-input corpus, SIGKILL/resume drills and a full disk, with counts for BENCHMARKS.md.

    python benchmarks/reliability.py                       # this checkout: corpus, kill drills, full disk
    python benchmarks/reliability.py --package-root OLD    # the corpus against another checkout's package
    python benchmarks/reliability.py --kills 6 --skip-kills

Prints: inputs / clean / tracebacks / multi-line / wrong exit / silent runs (per group), then per run kind:
kills / resumes that succeeded / max steps lost / final weights bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    """tests/reliability/<name>.py by file (so that --package-root can point `latent_atlas` elsewhere)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "reliability" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def make_kit(root: Path, bad_inputs):
    """A 16x16 'cars' scene and a finished 4-step tiny-nerf run with two checkpoints (as the tests' kit)."""
    from latent_atlas.data.synth.writer import SynthConfig, synthesize
    from latent_atlas.methods.registry import method_config
    from latent_atlas.tasks.scene import SceneTask
    from latent_atlas.tasks.scene_config import TrainConfig

    cfg = SynthConfig(output=root / "data", family="cars", num_scenes=1, resolution=16, num_train=6, num_val=2, num_test=2, seed=1, supersample=1)
    scene = synthesize(cfg)[0]
    method = method_config("tiny-nerf")
    method.max_steps, method.rays_per_batch = 4, 32
    run_cfg = TrainConfig(
        method_name="tiny-nerf", method=method, data=scene, output_dir=root / "out", progress=False, checkpoint_every=2, eval_every=10**9, eval_images=1
    )
    run = SceneTask(run_cfg).train()
    (root / "work").mkdir()
    return bad_inputs.Kit(scene=scene, run=run, work=root / "work")


def corpus(work: Path, every: int = 1, process: bool = False) -> list[dict]:
    """Every `every`-th case of the corpus, in this process or (process=True) each as a real `latlas` process."""
    bad_inputs = _load("bad_inputs")
    kit = make_kit(work, bad_inputs)
    rows = []
    runner = bad_inputs.run_latlas_process if process else bad_inputs.run_latlas
    for case, outcome, stray in bad_inputs.run_drill(kit, bad_inputs.bad_input_cases()[::every], runner):
        verdict = outcome.verdict
        if verdict == "clean" and case.names.lower() not in outcome.stderr.lower():
            verdict = "unnamed"
        lines = (outcome.escaped or outcome.stderr).strip().splitlines()
        rows.append({"case": case.name, "verdict": verdict, "stray": bool(stray), "message": (lines[-1] if lines else "")[:160]})
    return rows


def print_corpus(rows: list[dict]) -> None:
    verdicts = ("clean", "traceback", "multi-line", "wrong-exit", "silent", "unnamed")
    groups = sorted({r["case"].split("/")[0] for r in rows})
    print(f"| group | inputs | {' | '.join(verdicts)} | wrote outside output |")
    print("|---|---:|" + "---:|" * len(verdicts) + "---:|")
    for group in [*groups, "all"]:
        chosen = [r for r in rows if group == "all" or r["case"].split("/")[0] == group]
        counts = Counter(r["verdict"] for r in chosen)
        label = f"**{group}**" if group == "all" else group
        print(f"| {label} | {len(chosen)} | {' | '.join(str(counts.get(v, 0)) for v in verdicts)} | {sum(r['stray'] for r in chosen)} |")
    bad = [r for r in rows if r["verdict"] != "clean" or r["stray"]]
    for r in bad:
        print(f"  {r['verdict']:10s} {r['case']}: {r['message']}")


def kill_drills(work: Path, kills: int) -> list[tuple[str, object]]:
    """SIGKILL drills of a single-scene, a latent and a many-scene run, and a SIGTERM drill (checkpoints every step)."""
    kill_drill = _load("kill_drill")
    bad_inputs = sys.modules.get("bad_inputs") or _load("bad_inputs")
    kit = make_kit(work / "kit", bad_inputs)
    family = work / "family"
    for name in ("scene_000", "scene_001", "scene_002"):
        shutil.copytree(kit.scene, family / name)
    (family / "dataset_map.json").write_text(json.dumps({"cars": ["scene_000", "scene_001", "scene_002"]}))
    ae = subprocess.run(
        [
            sys.executable,
            "-m",
            "latent_atlas.cli.main",
            "ae",
            "train",
            "--data",
            str(kit.scene),
            "--max-steps",
            "20",
            "--no-progress",
            "--output-dir",
            str(work / "ae"),
        ],
        capture_output=True,
        text=True,
    )
    ae_run = ae.stdout.strip().splitlines()[-1].split("run folder: ")[1]
    every = ["--checkpoint-every", "1", "--log-every", "1", "--no-progress", "--eval-every", "0"]
    starts = {
        "single scene (tiny-nerf, RGB)": [
            "train",
            "tiny-nerf",
            "--data",
            str(kit.scene),
            "--max-steps",
            "120",
            "--rays-per-batch",
            "128",
            "--eval-images",
            "1",
            *every,
        ],
        "single scene (tiny-nerf, latent --ae)": [
            *("train", "tiny-nerf", "--data", str(kit.scene), "--space", "latent", "--ae", ae_run),
            *("--max-steps", "120", "--rays-per-batch", "128", "--eval-images", "1", *every),
        ],
        "many scenes (triplanes, 3 scenes)": [
            "triplanes",
            "--data",
            str(family),
            "--phases.0.epochs",
            "80",
            "--rays-per-view",
            "64",
            "--scenes-per-batch",
            "1",
            *every,
        ],
    }
    drills = [(f"{name}, SIGKILL", start, signal.SIGKILL) for name, start in starts.items()]
    drills.append(("single scene (tiny-nerf, RGB), SIGTERM", starts["single scene (tiny-nerf, RGB)"], signal.SIGTERM))
    results = []
    for i, (name, start, sig) in enumerate(drills):
        reference = kill_drill.reference_run(start, work / f"reference-{i}")
        results.append((name, kill_drill.kill_drill(start, work / f"killed-{i}", reference, kills=kills, seed=i, timeout=900, sig=sig)))
    return results


def full_disk(work: Path) -> str:
    """A training run whose checkpoint cannot be written (RLIMIT_FSIZE: writes past 200 KiB fail as on a full
    disk, with EFBIG): the exit code and the error line."""
    script = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (200 * 1024, 200 * 1024)); "
        "from latent_atlas.cli.main import main; sys.exit(main(sys.argv[1:]))"
    )
    kit_scene = next((work / "kit" / "data").glob("scene_*"))
    args = ["train", "tiny-nerf", "--data", str(kit_scene), "--max-steps", "4", "--checkpoint-every", "2", "--no-progress", "--output-dir", str(work / "full")]
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True)
    lines = [line for line in proc.stderr.strip().splitlines() if not line.startswith("latlas: cpu defaults")]
    return f"exit {proc.returncode}, {len(lines)} line(s): {lines[-1] if lines else ''}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package-root", type=Path, help="import latent_atlas from this checkout (corpus only)")
    parser.add_argument("--kills", type=int, default=4, help="SIGKILLs per run kind")
    parser.add_argument("--skip-kills", action="store_true")
    parser.add_argument("--process-every", type=int, default=6, help="also run every Nth case as its own process (0: none)")
    parser.add_argument("--json", type=Path, help="also write the corpus rows here")
    args = parser.parse_args()
    if args.package_root:
        sys.path.insert(0, str(args.package_root.resolve()))
    sys.path.insert(1, str(ROOT / "benchmarks"))
    import torch
    from machine import machine_line

    import latent_atlas

    torch.set_num_threads(2)
    print(f"# reliability drill: latent_atlas from {Path(latent_atlas.__file__).parent}")
    print(machine_line())
    with tempfile.TemporaryDirectory() as tmp:
        rows = corpus(Path(tmp) / "corpus")
        print("\n## Bad inputs (every case should be: exit 2, one line naming the file or flag, nothing written outside)\n")
        print_corpus(rows)
        if args.process_every:
            print(f"\n### The same, every {args.process_every}th case as a real `latlas` process (stderr as a user sees it)\n")
            print_corpus(corpus(Path(tmp) / "corpus-processes", args.process_every, process=True))
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
        if args.package_root or args.skip_kills:
            return
        print("\n## SIGKILL / SIGTERM at random moments (checkpoints every step), then `latlas train --resume RUN`\n")
        print("| run | kills | resumes that succeeded | max steps lost | lost per kill | final weights == uninterrupted |")
        print("|---|---:|---:|---:|---|---|")
        for name, report in kill_drills(Path(tmp) / "kills", args.kills):
            print(
                f"| {name} | {report.kills} | {report.resumes_ok} | {report.max_lost} | {report.lost_steps} | {'bit-identical' if report.identical else report.differing[:3]} |"
            )
        print(f"\nfull disk while checkpointing: {full_disk(Path(tmp) / 'kills')}")


if __name__ == "__main__":
    main()
