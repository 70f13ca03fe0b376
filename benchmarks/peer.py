"""The official TensoRF (../shared/peers/tensorf) against our tensorf and our fastest method, back to back in one run.

    python benchmarks/peer.py                                  # objects128/bunny, 120/300/600 s, all 50 test views
    python benchmarks/peer.py --budgets 120 300 --fast-method instant-ngp

Each budget is a separate run of the peer (its schedule follows the fraction of the budget spent) and of our
tensorf (ours does the same). Our fastest method trains once for the middle budget with checkpoints on the way;
the time it needs to reach the peer's PSNR at that budget is read off those checkpoints (an upper bound: each
checkpoint is taken mid-run, before its learning rate has decayed). All numbers: test PSNR/SSIM on every test view.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from machine import machine_line
from methods import METHOD_FLAGS
from train_budget import print_table, run_method

SHARED = Path(__file__).resolve().parents[2] / "shared"
PEER = SHARED / "peers" / "tensorf" / "run_peer.sh"


def run_peer(data: Path, seconds: float, out: Path) -> dict:
    """Trains the official TensoRF for `seconds`; its result line as a row."""
    env = {**os.environ, "PEER_THREADS": str(os.environ.get("OMP_NUM_THREADS", 2))}
    proc = subprocess.run(["bash", str(PEER), str(data), str(int(seconds)), str(out)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"method": "official TensoRF", "budget_s": seconds, "failed": proc.stderr.strip().splitlines()[-1:]}
    fields = dict(item.split("=", 1) for item in proc.stdout.strip().splitlines()[-1].split()[1:])
    return {
        "method": "official TensoRF",
        "budget_s": seconds,
        "train_s": round(float(fields["train_s"]), 1),
        "steps": int(fields["iters"]),
        "test_psnr": round(float(fields["psnr"]), 2),
        "test_ssim": round(float(fields["ssim"]), 4),
        "peak_mem_mb": round(float(fields["peak_rss_mb"])),
    }


def ours(method: str, data: Path, budgets: list[float], out: Path, eval_images: int) -> list[dict]:
    """Our `method` with its CPU flags, one run per budget when budgets has one entry, else checkpoints on the way."""
    rows = run_method(method, data, budgets, out, eval_images, METHOD_FLAGS.get(method, []))
    for row, budget in zip(rows, budgets, strict=True):
        row["budget_s"] = budget
    return rows


def time_to_reach(rows: list[dict], psnr: float) -> float | None:
    """Training seconds of the first checkpoint at or above `psnr` (None if none reaches it)."""
    return next((r["train_s"] for r in sorted(rows, key=lambda r: r["train_s"]) if r["test_psnr"] >= psnr), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED / "datasets" / "objects128" / "bunny")
    parser.add_argument("--budgets", nargs="+", type=float, default=[120.0, 300.0, 600.0])
    parser.add_argument("--fast-method", default="instant-ngp")
    parser.add_argument("--fast-checkpoints", nargs="+", type=float, default=[30.0, 60.0, 90.0, 120.0, 150.0])
    parser.add_argument("--eval-images", type=int, default=50, help="test views scored for our runs (the peer scores all)")
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/benchmarks/peer"))
    args = parser.parse_args()
    budgets = sorted(args.budgets)
    rows = []
    for budget in budgets:  # peer and ours alternate, so that both see the machine in the same state
        rows.append(run_peer(args.data, budget, args.output_dir / f"peer-{int(budget)}"))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        rows += ours("tensorf", args.data, [budget], args.output_dir / f"tensorf-{int(budget)}", args.eval_images)
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    middle = budgets[len(budgets) // 2]
    marks = sorted({t for t in args.fast_checkpoints if t < middle} | {middle})
    fast = ours(args.fast_method, args.data, marks, args.output_dir / args.fast_method, args.eval_images)
    rows += fast
    (args.output_dir / "rows.json").write_text(json.dumps(rows, indent=2))
    print(machine_line())
    print(f"# scene {args.data.name}, {args.eval_images} test views for ours (the peer: all)")
    print_table(rows, ["method", "budget_s", "train_s", "steps", "test_psnr", "test_ssim", "peak_mem_mb"])
    peer_middle = next((r for r in rows if r["method"] == "official TensoRF" and r["budget_s"] == middle and "test_psnr" in r), None)
    if peer_middle:
        reached = time_to_reach(fast, peer_middle["test_psnr"])
        speedup = "not reached" if reached is None else f"{reached:.0f} s ({peer_middle['train_s'] / reached:.1f}x faster)"
        print(f"\n{args.fast_method} reaches the peer's {middle:.0f}-s PSNR ({peer_middle['test_psnr']} dB) in: {speedup}")


if __name__ == "__main__":
    main()
