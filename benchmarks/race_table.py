"""Stage 2 against RGB Tri-Planes at equal PSNR, per scene count, from finished run folders.

    python benchmarks/race_table.py OUT/*/*/*/    # run folders of `latlas scale stage2` and `latlas triplanes`

Groups the runs by their number of scenes; for every stage-2 run prints the per-scene time RGB Tri-Planes need to
reach its decoded PSNR, interpolated between the RGB runs of the same size that bracket it (a bound where none
does), and the ratio. It scores runs made by hand, one at a time, as `benchmarks/scaled.py` scores its own.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scaled import read_summary, time_ratio, time_to_psnr  # noqa: E402


def epochs(run_dir: Path) -> list[float]:
    """Epochs of each phase of a multi-scene run (its config.json)."""
    return [phase["epochs"] for phase in json.loads((run_dir / "config.json").read_text())["phases"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (each holding summary.json and config.json)")
    args = parser.parse_args()
    runs = [{**read_summary(run), "epochs": epochs(run)} for run in args.runs if (run / "summary.json").is_file()]
    print("| scenes | run | PSNR (decoded / RGB) | train s / scene | RGB s / scene to that PSNR | stage 2 / RGB time |")
    print("|---|---|---|---|---|---|")
    for size in sorted({r["scenes"] for r in runs}):
        rgbs = sorted((r for r in runs if r["scenes"] == size and r["space"] == "rgb"), key=lambda r: r["epochs"])
        for r in rgbs:
            print(f"| {size} | RGB Tri-Planes, {r['epochs'][0]:g} epochs | {r['eval']['psnr_e']:.2f} | {r['train_seconds_per_scene']:.3f} | | |")
        for s2 in sorted((r for r in runs if r["scenes"] == size and r["space"] == "latent"), key=lambda r: r["epochs"]):
            target, mine = s2["eval"]["psnr_d"], s2["train_seconds_per_scene"]
            theirs = time_to_psnr(rgbs, target) if rgbs else None
            schedule = " + ".join(f"{e:g}" for e in s2["epochs"])
            print(f"| {size} | stage 2, {schedule} epochs | {target:.2f} | {mine:.3f} | {theirs or '-'} | {time_ratio(mine, theirs) if theirs else '-'} |")


if __name__ == "__main__":
    main()
