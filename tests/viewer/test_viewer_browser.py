"""`latlas view` in a real browser (headless Chromium through selenium): the page shows a frame, moving the
camera changes it, and a latent run's frame is decoded RGB equal to `latlas render` of the same camera.

Chromium and its driver come from Debian (`apt-get install chromium chromium-driver`, tried once here when
running as root); without them the test is skipped with the reason. Screenshots are kept in
outputs/test-artifacts/viewer/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latent_atlas.cli.main import main

ARTIFACTS = Path(__file__).resolve().parents[2] / "outputs" / "test-artifacts" / "viewer"


def _browser() -> tuple[str, str]:
    """(chromium, chromedriver) paths, installing them from Debian when possible; else pytest.skip."""
    pytest.importorskip("selenium", reason="selenium is not installed (pip install selenium)")
    pytest.importorskip("viser", reason="viser is not installed (pip install 'latent-atlas[viewer]')")
    found = shutil.which("chromium"), shutil.which("chromedriver")
    if not all(found) and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=300, env=env)
            subprocess.run(["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"], capture_output=True, timeout=400, env=env)
        except subprocess.TimeoutExpired:
            pytest.skip("installing chromium from Debian took too long here")
        found = shutil.which("chromium"), shutil.which("chromedriver")
    if not all(found):
        pytest.skip("no headless browser: chromium and chromium-driver are not installed and could not be installed here")
    return found


def _wait_for(path: Path, seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert path.is_file(), f"{path.name} did not appear within {seconds:.0f} s"
    time.sleep(0.3)  # the PNG is complete once camera_path.json follows it


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def latent_run(tiny_scene, tmp_path_factory):
    out = tmp_path_factory.mktemp("viewer-run")
    os.environ["LATLAS_CACHE_DIR"] = str(out / "cache")
    args = ["--output-dir", str(out), "--no-progress"]
    assert main(["ae", "train", "--data", str(tiny_scene), "--max-steps", "3", "--batch-size", "2", *args]) == 0
    ae_run = next(out.glob("*/ae-*/*/config.json")).parent
    train = [
        "train",
        "tiny-nerf",
        "--data",
        str(tiny_scene),
        "--space",
        "latent",
        "--ae",
        str(ae_run),
        "--max-steps",
        "10",
        "--rays-per-batch",
        "64",
        "--eval-every",
        "0",
    ]
    assert main([*train, *args]) == 0
    return next(out.glob("*/tiny-nerf/*/config.json")).parent


def test_viewer_in_a_browser_decodes_and_follows_the_camera(latent_run, tmp_path):
    chromium, driver_path = _browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    port, record = _free_port(), tmp_path / "record"
    viewer = subprocess.Popen(
        [sys.executable, "-m", "latent_atlas.cli.main", "view", "--run", str(latent_run), "--port", str(port), "--seconds", "240", "--record", str(record)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    options = Options()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=800,600", "--use-gl=swiftshader", "--enable-unsafe-swiftshader"):
        options.add_argument(flag)
    options.binary_location = chromium
    browser = None
    try:
        deadline = time.monotonic() + 60
        line = ""
        while "viewer: http" not in line and time.monotonic() < deadline:
            line = viewer.stdout.readline()
        assert "viewer: http" in line, "latlas view did not start"
        browser = webdriver.Chrome(service=Service(driver_path), options=options)
        browser.get(f"http://127.0.0.1:{port}")
        _wait_for(record / "frame_0000.png")  # the first full-resolution frame reached the page
        time.sleep(1.0)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "first-frame.png"))
        canvas = browser.find_elements(By.TAG_NAME, "canvas")[0]
        ActionChains(browser).move_to_element(canvas).click_and_hold().move_by_offset(150, 40).pause(0.2).move_by_offset(60, 0).release().perform()
        _wait_for(record / "frame_0001.png")
        time.sleep(1.0)
        browser.save_screenshot(str(ARTIFACTS / "after-move.png"))
    finally:
        if browser is not None:
            browser.quit()
        viewer.terminate()
        viewer.wait(timeout=30)
    first = np.asarray(Image.open(ARTIFACTS / "first-frame.png").convert("RGB"), dtype=np.float32)
    moved = np.asarray(Image.open(ARTIFACTS / "after-move.png").convert("RGB"), dtype=np.float32)
    assert np.abs(first - moved).mean() > 2.0, "the page did not change when the camera moved"

    # the viewer's frame is the decoded RGB render: `latlas render` of the recorded cameras gives the same image
    frames = tmp_path / "rendered"
    assert main(["render", "--run", str(latent_run), "--path", str(record / "camera_path.json"), "--format", "png", "--output", str(frames)]) == 0
    for index in (0, 1):
        viewer_frame = np.asarray(Image.open(record / f"frame_{index:04d}.png"), dtype=np.float32)
        rendered = np.asarray(Image.open(frames / f"frame_{index:04d}.png"), dtype=np.float32)
        assert viewer_frame.shape == rendered.shape and viewer_frame.shape[2] == 3
        assert np.abs(viewer_frame - rendered).mean() < 1.0, f"frame {index} differs from latlas render of its camera"
