"""Viewer latency on this machine: time from a camera move (a mouse drag in headless Chromium) to the first
low-resolution frame and to the full-resolution frame, for tensorf, instant-ngp and a latent triplane; and the
training slowdown while a browser is connected and moving the camera.

    python benchmarks/viewer_latency.py [--resolution 64] [--steps 100] [--drags 6]

Needs chromium + chromium-driver (Debian) and the test extras (viser, selenium).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine_line  # noqa: E402


def latlas(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "latent_atlas.cli.main", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"latlas {' '.join(args[:2])} failed: {proc.stderr.strip()[-400:]}")
    return proc.stdout.strip().splitlines()[-1].split("run folder: ")[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browser(port: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=800,600", "--use-gl=swiftshader", "--enable-unsafe-swiftshader"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium")
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.get(f"http://127.0.0.1:{port}")
    return driver


def drag(driver, dx: int) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    canvas = driver.find_elements(By.TAG_NAME, "canvas")[0]
    ActionChains(driver).move_to_element(canvas).click_and_hold().move_by_offset(dx, 10).release().perform()


def wait_for_line(proc: subprocess.Popen, text: str, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if text in line:
            return
    raise RuntimeError(f"'{text}' not printed within {seconds:.0f} s")


def latency(run: str, drags: int, work: Path) -> dict:
    """Median seconds from a camera update to the low-res frame and to the full-res frame."""
    port, record = free_port(), work / f"record-{free_port()}"
    viewer = subprocess.Popen(
        [sys.executable, "-m", "latent_atlas.cli.main", "view", "--run", run, "--port", str(port), "--record", str(record), "--seconds", "600"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for_line(viewer, "viewer: http")
    driver = browser(port)
    time.sleep(3.0)
    for i in range(drags):
        drag(driver, 80 if i % 2 else -80)
        time.sleep(2.0)
    driver.quit()
    viewer.terminate()
    viewer.wait(timeout=30)
    stats = json.loads((record / "latency.json").read_text())
    moving = [s for kind, s in stats["latencies"] if kind == "moving"]
    still = [s for kind, s in stats["latencies"] if kind == "still"]
    return {
        "moving_s": statistics.median(moving) if moving else float("nan"),
        "still_s": statistics.median(still) if still else float("nan"),
        "frames": stats["frames"],
        "render_s_per_frame": stats["render_seconds"] / max(stats["frames"], 1),
    }


def training_slowdown(scene: Path, steps: int, work: Path) -> tuple[float, float]:
    """(steps/s without a viewer, steps/s with --viewer and a browser dragging every second)."""
    common = ["train", "tiny-nerf", "--data", str(scene), "--max-steps", str(steps), "--no-progress", "--eval-every", "0", "--rays-per-batch", "1024"]
    plain = Path(latlas(*common, "--output-dir", str(work / "plain")))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "latent_atlas.cli.main", *common, "--output-dir", str(work / "viewed"), "--viewer", "--viewer-port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for_line(proc, "viewer: http")
    driver = browser(port)
    stop = threading.Event()

    def keep_moving():
        i = 0
        while not stop.is_set() and proc.poll() is None:
            try:
                drag(driver, 60 if i % 2 else -60)
            except Exception:  # the page closes when training ends
                return
            i += 1
            time.sleep(1.0)

    mover = threading.Thread(target=keep_moving)
    mover.start()
    out = proc.communicate(timeout=3600)[0]
    stop.set()
    mover.join()
    driver.quit()
    viewed = Path(out.strip().splitlines()[-1].split("run folder: ")[-1])
    rate = lambda run: json.loads((run / "summary.json").read_text())["steps"] / json.loads((run / "summary.json").read_text())["train_seconds"]
    return rate(plain), rate(viewed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--drags", type=int, default=6)
    args = parser.parse_args()
    print(machine_line())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        latlas(
            "data",
            "synth",
            "--family",
            "objects",
            "--output",
            str(work / "data"),
            "--resolution",
            str(args.resolution),
            "--num-train",
            "30",
            "--num-val",
            "2",
            "--num-test",
            "2",
        )
        scene = work / "data" / "scene_000"
        out = ["--output-dir", str(work / "runs"), "--no-progress", "--eval-every", "0", "--max-steps", str(args.steps)]
        ae = latlas("ae", "train", "--data", str(scene), "--max-steps", "30", "--no-progress", "--output-dir", str(work / "ae"))
        runs = {
            "tensorf (rgb)": latlas("train", "tensorf", "--data", str(scene), *out),
            "instant-ngp (rgb)": latlas("train", "instant-ngp", "--data", str(scene), *out),
            "triplane (latent, f8)": latlas("train", "triplane", "--data", str(scene), "--space", "latent", "--ae", ae, *out),
        }
        print(f"\n{args.resolution}x{args.resolution} images; frames {args.resolution} px high when still, 64 px while moving; {args.drags} drags, 2 s apart\n")
        print("| run | move -> low-res frame s (median) | move -> full-res frame s (median, incl. 0.25 s stillness) | render s per frame | frames |")
        print("|---|---:|---:|---:|---:|")
        for name, run in runs.items():
            r = latency(run, args.drags, work)
            print(f"| {name} | {r['moving_s']:.3f} | {r['still_s']:.3f} | {r['render_s_per_frame']:.3f} | {r['frames']} |")
        plain, viewed = training_slowdown(scene, 3 * args.steps, work)
        print(
            f"\ntiny-nerf training, {3 * args.steps} steps: {plain:.2f} steps/s alone, {viewed:.2f} steps/s with --viewer (share 0.3) and a browser dragging every second: {viewed / plain:.2f}x"
        )


if __name__ == "__main__":
    main()
