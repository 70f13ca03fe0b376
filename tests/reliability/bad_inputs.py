"""A corpus of bad inputs for every command, and an in-process runner that classifies what `latlas` did.

Each case damages a copy of a small, valid data set (or run folder, or command line) in one way and
names the command that reads it. The expected outcome of every case is the same: exit 2, one line on
stderr naming the file or flag at fault, no traceback, nothing written outside the output folder.
Used by tests/reliability/test_bad_inputs.py and benchmarks/reliability.py (the counts in BENCHMARKS.md).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import struct
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

TRAIN = ["--max-steps", "2", "--no-progress", "--eval-every", "0", "--rays-per-batch", "32", "--eval-images", "1"]
"""Flags every training case adds: if a bad input slips through, the run is short (and counted as silent)."""


@dataclass
class Kit:
    """Valid materials the cases damage copies of."""

    scene: Path
    """A small Blender + nerfstudio scene (transforms_{train,val,test}.json and transforms.json)."""
    run: Path
    """A finished tiny-nerf run folder on `scene`."""
    work: Path
    """Where cases put their copies."""


@dataclass
class Case:
    name: str
    build: Callable[[Kit, Path], list[str]]
    """(kit, case folder) -> latlas argv; the case folder is empty and the output folder is case/out."""
    names: str = ""
    """A substring the error line must contain (the file or flag at fault); '' for the case folder's name."""


@dataclass
class Outcome:
    code: int | str
    stderr: str
    escaped: str = ""
    """The traceback of an exception that escaped main(), else ''."""

    @property
    def verdict(self) -> str:
        """clean | traceback | multi-line | wrong-exit | silent (exit 0: it ran on bad input)."""
        if self.escaped:
            return "traceback"
        if self.code == 0:
            return "silent"
        if self.code != 2:
            return "wrong-exit"
        lines = [line for line in self.stderr.strip().splitlines() if line.startswith("latlas: error:")]
        if len(self.stderr.strip().splitlines()) - _warnings(self.stderr) != 1 or len(lines) != 1:
            return "multi-line"
        return "clean"


def _warnings(text: str) -> int:
    return sum(1 for line in text.strip().splitlines() if line.startswith("latlas: warning:") or line.startswith("latlas: cpu defaults"))


def run_latlas(argv: list[str]) -> Outcome:
    """Runs `latlas argv` in this process; captures stderr, the exit code and any escaped exception."""
    from latent_atlas.cli.main import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException:  # noqa: BLE001 - a traceback is what the drill looks for
            return Outcome("exception", err.getvalue(), traceback.format_exc())
    return Outcome(code, err.getvalue())


def run_latlas_process(argv: list[str]) -> Outcome:
    """Runs `python -m latent_atlas.cli.main argv` as its own process (what a user sees, warnings included)."""
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}  # the same latent_atlas as this process
    proc = subprocess.run([sys.executable, "-m", "latent_atlas.cli.main", *argv], capture_output=True, text=True, timeout=600, env=env)
    escaped = proc.stderr if "Traceback (most recent call last)" in proc.stderr else ""
    return Outcome(proc.returncode, proc.stderr, escaped)


# ---- writing damaged files ---------------------------------------------------------------------------
def write_png16(path: Path, values: np.ndarray) -> None:
    """A 16-bit PNG of uint16 values [H, W] (greyscale) or [H, W, 3|4] (PIL cannot write these itself)."""
    array = values if values.ndim == 3 else values[..., None]
    h, w, c = array.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def png_declaring(path: Path, width: int, height: int) -> None:
    """A PNG header declaring width x height with no pixel data behind it (a decompression bomb's shape)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + header) & 0xFFFFFFFF)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + header + crc)


def copy_scene(kit: Kit, case: Path) -> Path:
    folder = case / "scene"
    shutil.copytree(kit.scene, folder)
    return folder


def copy_run(kit: Kit, case: Path) -> Path:
    folder = case / "run"
    shutil.copytree(kit.run, folder)
    return folder


def to_srn(scene: Path, folder: Path) -> Path:
    """The train views of a Blender scene as an SRN folder: rgb/, pose/ (OpenCV camera-to-world), intrinsics.txt."""
    meta = json.loads((scene / "transforms_train.json").read_text())
    (folder / "rgb").mkdir(parents=True)
    (folder / "pose").mkdir()
    flip = np.diag([1.0, -1.0, -1.0, 1.0])
    width = 0
    for i, frame in enumerate(meta["frames"]):
        image = Image.open(scene / f"{frame['file_path']}.png" if not frame["file_path"].endswith(".png") else scene / frame["file_path"]).convert("RGB")
        width = image.width
        image.save(folder / "rgb" / f"{i:06d}.png")
        pose = np.array(frame["transform_matrix"]) @ flip
        (folder / "pose" / f"{i:06d}.txt").write_text(" ".join(f"{v:.8f}" for v in pose.ravel()))
    f = 0.5 * width / np.tan(0.5 * meta["camera_angle_x"])
    (folder / "intrinsics.txt").write_text(f"{f} {width / 2} {width / 2} 0.\n0. 0. 0.\n1.\n{width} {width}\n")
    return folder


def edit_json(path: Path, change: Callable[[dict], object]) -> None:
    """Applies `change` (in place; its return value is ignored) to the parsed JSON of `path` and writes it back."""
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def frame0(key: str, value) -> Callable[[dict], None]:
    return lambda meta: meta["frames"][0].__setitem__(key, value)


def pose0(change: Callable[[np.ndarray], np.ndarray]) -> Callable[[dict], None]:
    def apply(meta: dict) -> None:
        matrix = np.array(meta["frames"][0]["transform_matrix"], dtype=np.float64)
        meta["frames"][0]["transform_matrix"] = change(matrix).tolist()

    return apply


def set_key(key: str, value) -> Callable[[dict], None]:
    return lambda meta: meta.__setitem__(key, value)


# ---- the cases ---------------------------------------------------------------------------------------
def train_case(file: str, change: Callable[[dict], object], fmt: str = "auto") -> Callable[[Kit, Path], list[str]]:
    """`latlas train tiny-nerf` on a copy of the scene whose JSON `file` went through `change`."""

    def build(kit: Kit, case: Path) -> list[str]:
        scene = copy_scene(kit, case)
        edit_json(scene / file, change)
        return ["train", "tiny-nerf", "--data", str(scene), "--data-format", fmt, "--output-dir", str(case / "out"), *TRAIN]

    return build


def raw_json_case(file: str, text: str | bytes, fmt: str = "auto") -> Callable[[Kit, Path], list[str]]:
    def build(kit: Kit, case: Path) -> list[str]:
        scene = copy_scene(kit, case)
        (scene / file).write_bytes(text if isinstance(text, bytes) else text.encode())
        return ["train", "tiny-nerf", "--data", str(scene), "--data-format", fmt, "--output-dir", str(case / "out"), *TRAIN]

    return build


def image_case(damage: Callable[[Path], None], fmt: str = "auto") -> Callable[[Kit, Path], list[str]]:
    """Training on a copy whose first train image went through `damage`."""

    def build(kit: Kit, case: Path) -> list[str]:
        scene = copy_scene(kit, case)
        damage(scene / "train" / "r_0.png")
        return ["train", "tiny-nerf", "--data", str(scene), "--data-format", fmt, "--output-dir", str(case / "out"), *TRAIN]

    return build


def srn_case(damage: Callable[[Path], None]) -> Callable[[Kit, Path], list[str]]:
    def build(kit: Kit, case: Path) -> list[str]:
        folder = to_srn(kit.scene, case / "srn")
        damage(folder)
        return ["train", "tiny-nerf", "--data", str(folder), "--output-dir", str(case / "out"), *TRAIN]

    return build


def flag_case(*flags: str, method: str = "tiny-nerf") -> Callable[[Kit, Path], list[str]]:
    def build(kit: Kit, case: Path) -> list[str]:
        return ["train", method, "--data", str(kit.scene), "--output-dir", str(case / "out"), *TRAIN, *flags]

    return build


def family_case(damage: Callable[[Path], None], command: tuple[str, ...] = ("triplanes",), *flags: str) -> Callable[[Kit, Path], list[str]]:
    """A two-scene family (dataset_map.json) damaged by `damage`, read by `command` (triplanes, igae, ...)."""

    def build(kit: Kit, case: Path) -> list[str]:
        family = case / "family"
        for name in ("scene_000", "scene_001"):
            shutil.copytree(kit.scene, family / name)
        (family / "dataset_map.json").write_text(json.dumps({"cars": ["scene_000", "scene_001"]}))
        damage(family)
        tail = ["--output-dir", str(case / "out"), "--no-progress", "--phases.0.epochs", "1"]
        tail += ["--rays-per-view", "16"] if command == ("triplanes",) else []
        return [*command, "--data", str(family), *tail, *flags]

    return build


def run_case(damage: Callable[[Path], None], command: str = "eval", *flags: str) -> Callable[[Kit, Path], list[str]]:
    """`latlas eval|render|train --resume` on a copy of the finished run damaged by `damage`."""

    def build(kit: Kit, case: Path) -> list[str]:
        run = copy_run(kit, case)
        damage(run)
        if command == "resume":
            return ["train", "--resume", str(run), "--max-steps", "4", *flags]
        return [command, "--run", str(run), *flags]

    return build


def _checkpoint(run: Path, suffix: str) -> Path:
    return sorted((run / "checkpoints").glob(f"step-*{suffix}"))[-1]


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _only_newest_checkpoint(run: Path) -> None:
    for json_path in sorted((run / "checkpoints").glob("step-*.json"))[:-1]:
        json_path.unlink()
        json_path.with_suffix(".safetensors").unlink()


def _damage_checkpoint(run: Path, suffix: str, damage: Callable[[Path], None]) -> None:
    _only_newest_checkpoint(run)  # no earlier one to fall back to: the error must name the file
    damage(_checkpoint(run, suffix))


def _ae_folder(case: Path, weights: bytes) -> Path:
    folder = case / "ae"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"latent_channels": 4}))
    (folder / "diffusion_pytorch_model.safetensors").write_bytes(weights)
    return folder


def ae_case(make: Callable[[Path], Path]) -> Callable[[Kit, Path], list[str]]:
    def build(kit: Kit, case: Path) -> list[str]:
        return ["train", "tiny-nerf", "--data", str(kit.scene), "--space", "latent", "--ae", str(make(case)), "--output-dir", str(case / "out"), *TRAIN]

    return build


def _malicious_pickle(case: Path) -> Path:
    """A .ckpt whose unpickling would create case/pwned (weights_only loading must refuse it)."""

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {case / 'pwned'}",))

    path = case / "model.ckpt"
    torch.save({"state_dict": Payload()}, path)
    return path


def _deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def _write_image(path: Path, image: Image.Image) -> None:
    image.save(path)


def bad_input_cases() -> list[Case]:
    """Every case of the drill (names are unique)."""
    tj, ns = "transforms_train.json", "transforms.json"
    cases = [
        # -- Blender JSON: syntax
        Case("blender/truncated-json", raw_json_case(tj, '{"camera_angle_x": 0.69, "frames": ['), tj),
        Case("blender/empty-file", raw_json_case(tj, ""), tj),
        Case("blender/binary-garbage", raw_json_case(tj, bytes(range(256)) * 4), tj),
        Case("blender/top-level-list", raw_json_case(tj, "[1, 2, 3]"), tj),
        Case("blender/nested-100000-deep", raw_json_case(tj, _deep_json(100_000)), tj),
        Case("blender/nan-literal", raw_json_case(tj, '{"camera_angle_x": NaN, "frames": []}'), tj),
        Case("blender/infinity-angle", raw_json_case(tj, '{"camera_angle_x": Infinity, "frames": [{"file_path": "train/r_0"}]}'), tj),
        # -- Blender JSON: values
        Case("blender/angle-zero", train_case(tj, set_key("camera_angle_x", 0)), "camera_angle_x"),
        Case("blender/angle-string", train_case(tj, set_key("camera_angle_x", "wide")), "camera_angle_x"),
        Case("blender/angle-negative", train_case(tj, set_key("camera_angle_x", -0.7)), "camera_angle_x"),
        Case("blender/angle-pi", train_case(tj, set_key("camera_angle_x", 3.1416)), "camera_angle_x"),
        Case("blender/angle-null", train_case(tj, set_key("camera_angle_x", None)), "camera_angle_x"),
        Case("blender/angle-bool", train_case(tj, set_key("camera_angle_x", True)), "camera_angle_x"),
        Case("blender/angle-y-zero", train_case(tj, set_key("camera_angle_y", 0.0)), "camera_angle_y"),
        Case("blender/missing-angle", train_case(tj, lambda m: m.pop("camera_angle_x")), "camera_angle_x"),
        Case("blender/missing-frames", train_case(tj, lambda m: m.pop("frames")), "frames"),
        Case("blender/empty-frames", train_case(tj, set_key("frames", [])), "frames"),
        Case("blender/frames-object", train_case(tj, set_key("frames", {"a": 1})), "frames"),
        Case("blender/frames-of-numbers", train_case(tj, set_key("frames", [1, 2])), tj),
        Case("blender/file-path-number", train_case(tj, frame0("file_path", 5)), "file path"),
        Case("blender/file-path-empty", train_case(tj, frame0("file_path", "")), "file path"),
        Case("blender/file-path-outside", train_case(tj, frame0("file_path", "../../../../etc/hostname")), "outside"),
        Case("blender/file-path-absolute", train_case(tj, frame0("file_path", "/etc/hostname")), "outside"),
        Case("blender/missing-file-path", train_case(tj, lambda m: m["frames"][0].pop("file_path")), "file_path"),
        Case("blender/pose-zeros", train_case(tj, pose0(lambda p: np.zeros((4, 4)))), tj),
        Case(
            "blender/pose-nan",
            train_case(tj, lambda m: m["frames"][0].__setitem__("transform_matrix", [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, "x"], [0, 0, 0, 1]])),
            tj,
        ),
        Case("blender/pose-3x3", train_case(tj, pose0(lambda p: p[:3, :3])), "4x4"),
        Case("blender/pose-rank-2", train_case(tj, pose0(lambda p: np.concatenate([p[:, :2], np.zeros((4, 1)), p[:, 3:]], 1))), "rotation"),
        Case("blender/pose-bottom-row-ones", train_case(tj, pose0(lambda p: np.concatenate([p[:3], np.ones((1, 4))]))), "bottom row"),
        Case("blender/pose-translation-1e30", train_case(tj, pose0(lambda p: p + np.pad(np.full((3, 1), 1e30), ((0, 1), (3, 0))))), "position"),
        Case("blender/pose-scaled", train_case(tj, pose0(lambda p: np.concatenate([p[:3] * 2.0, p[3:]]))), "rotation"),
        Case("blender/pose-reflection", train_case(tj, pose0(lambda p: p @ np.diag([-1.0, 1.0, 1.0, 1.0]))), "reflection"),
        Case("blender/pose-string", train_case(tj, frame0("transform_matrix", "identity")), "transform_matrix"),
        Case("blender/pose-ragged", train_case(tj, frame0("transform_matrix", [[1, 0], [0, 1, 0]])), "transform_matrix"),
        Case("blender/time-string", train_case(tj, lambda m: [f.__setitem__("time", "noon") for f in m["frames"]]), "time"),
        Case("blender/time-out-of-range", train_case(tj, lambda m: [f.__setitem__("time", 2.0) for f in m["frames"]]), "time"),
        Case("blender/time-on-some-frames", train_case(tj, frame0("time", 0.5)), "time"),
        # -- images
        Case("image/missing", image_case(lambda p: p.unlink()), "r_0"),
        Case("image/empty-file", image_case(lambda p: p.write_bytes(b"")), "r_0"),
        Case("image/not-an-image", image_case(lambda p: p.write_bytes(b"not a png")), "r_0"),
        Case("image/truncated-png", image_case(lambda p: _truncate(p, 0.5)), "r_0"),
        Case("image/declares-100000x100000", image_case(lambda p: png_declaring(p, 100_000, 100_000)), "r_0"),
        Case("image/a-folder", image_case(lambda p: (p.unlink(), p.mkdir())), "r_0"),
        Case("image/other-size", image_case(lambda p: _write_image(p, Image.new("RGBA", (20, 16)))), "r_0"),
        Case("image/16-bit-other-size", image_case(lambda p: write_png16(p, np.zeros((8, 8), np.uint16))), "r_0"),
        # -- nerfstudio JSON
        Case("nerfstudio/fl-x-zero", train_case(ns, set_key("fl_x", 0), "nerfstudio"), "fl_x"),
        Case("nerfstudio/fl-x-negative", train_case(ns, set_key("fl_x", -10.0), "nerfstudio"), "fl_x"),
        Case("nerfstudio/fl-x-string", train_case(ns, set_key("fl_x", "20"), "nerfstudio"), "fl_x"),
        Case("nerfstudio/fl-x-null", train_case(ns, set_key("fl_x", None), "nerfstudio"), "fl_x"),
        Case("nerfstudio/fl-y-negative", train_case(ns, set_key("fl_y", -5.0), "nerfstudio"), "fl_y"),
        Case("nerfstudio/frame-fl-x-string", train_case(ns, frame0("fl_x", "long"), "nerfstudio"), "fl_x"),
        Case("nerfstudio/cx-1e9", train_case(ns, set_key("cx", 1e9), "nerfstudio"), "principal point"),
        Case("nerfstudio/cy-negative", train_case(ns, set_key("cy", -3.0), "nerfstudio"), "principal point"),
        Case("nerfstudio/cx-string", train_case(ns, set_key("cx", "centre"), "nerfstudio"), "cx"),
        Case("nerfstudio/w-string", train_case(ns, set_key("w", "wide"), "nerfstudio"), "'w'"),
        Case("nerfstudio/w-mismatch", train_case(ns, set_key("w", 64), "nerfstudio"), "declares"),
        Case("nerfstudio/w-negative", train_case(ns, set_key("w", -16), "nerfstudio"), "'w'"),
        Case("nerfstudio/k1-string", train_case(ns, set_key("k1", "none"), "nerfstudio"), "k1"),
        Case("nerfstudio/k1-distortion", train_case(ns, set_key("k1", 0.1), "nerfstudio"), "distortion"),
        Case("nerfstudio/train-filenames-number", train_case(ns, set_key("train_filenames", 5), "nerfstudio"), "train_filenames"),
        Case("nerfstudio/train-filenames-missing-frame", train_case(ns, set_key("train_filenames", ["nope.png"]), "nerfstudio"), "nope.png"),
        Case("nerfstudio/file-path-outside", train_case(ns, frame0("file_path", "../x.png"), "nerfstudio"), "outside"),
        Case("nerfstudio/pose-nan", raw_json_case(ns, '{"fl_x": 20, "frames": [{"file_path": "train/r_0.png", "transform_matrix": NaN}]}', "nerfstudio"), ns),
        Case("nerfstudio/opencv-empty-frames", lambda kit, case: _opencv_empty(kit, case), "frames"),
        # -- SRN
        Case("srn/focal-zero", srn_case(lambda f: _rewrite_first_number(f / "intrinsics.txt", "0")), "intrinsics.txt"),
        Case("srn/focal-nan", srn_case(lambda f: _rewrite_first_number(f / "intrinsics.txt", "nan")), "intrinsics.txt"),
        Case("srn/focal-negative", srn_case(lambda f: _rewrite_first_number(f / "intrinsics.txt", "-30")), "intrinsics.txt"),
        Case("srn/intrinsics-empty", srn_case(lambda f: (f / "intrinsics.txt").write_text("")), "intrinsics.txt"),
        Case("srn/size-zero", srn_case(lambda f: (f / "intrinsics.txt").write_text("20 8 8 0.\n0 0 0\n1.\n0 0\n")), "intrinsics.txt"),
        Case("srn/pose-nan", srn_case(lambda f: (f / "pose" / "000000.txt").write_text(" ".join(["nan"] * 16))), "000000.txt"),
        Case("srn/pose-zeros", srn_case(lambda f: (f / "pose" / "000000.txt").write_text(" ".join(["0"] * 16))), "000000.txt"),
        Case("srn/pose-15-numbers", srn_case(lambda f: (f / "pose" / "000000.txt").write_text(" ".join(["1"] * 15))), "000000.txt"),
        Case("srn/pose-missing", srn_case(lambda f: (f / "pose" / "000001.txt").unlink()), "000001.txt"),
        Case("srn/no-images", srn_case(lambda f: [p.unlink() for p in (f / "rgb").iterdir()]), "rgb"),
        # -- families (triplanes / igae / scale)
        Case("family/map-names-missing-scene", family_case(lambda f: (f / "dataset_map.json").write_text('{"cars": ["scene_000", "scene_404"]}')), "scene_404"),
        Case("family/map-malformed", family_case(lambda f: (f / "dataset_map.json").write_text('{"cars": [')), "dataset_map.json"),
        Case("family/map-numbers", family_case(lambda f: (f / "dataset_map.json").write_text('{"cars": [1, 2]}')), "dataset_map.json"),
        Case("family/map-outside", family_case(lambda f: (f / "dataset_map.json").write_text('{"cars": ["../../etc"]}')), "dataset_map.json"),
        Case("family/map-nested-deep", family_case(lambda f: (f / "dataset_map.json").write_text(_deep_json(100_000))), "dataset_map.json"),
        Case("family/bad-camera-in-one-scene", family_case(lambda f: edit_json(f / "scene_001" / tj, set_key("camera_angle_x", -1))), "scene_001"),
        Case("family/epochs-negative", family_case(lambda f: None, ("triplanes",), "--phases.0.epochs", "-1"), "epochs"),
        Case("family/scene-lr-nan", family_case(lambda f: None, ("triplanes",), "--scene-lr.lr", "nan"), "scene-lr.lr"),
        Case("family/igae-unknown-preset", family_case(lambda f: None, ("igae",), "--ae-preset", "huge"), "huge"),
        Case("family/scale-missing-init", family_case(lambda f: None, ("scale", "stage2"), "--init", "/nonexistent/run"), "nonexistent"),
        Case("family/resume-typo", lambda kit, case: ["triplanes", "--resume", str(case / "no-such-run")], "no-such-run"),
        Case("family/first-scene-beyond", family_case(lambda f: None, ("triplanes",), "--first-scene", "7"), "family"),
        # -- command-line values
        Case("flags/max-steps-negative", flag_case("--max-steps", "-5"), "--max-steps"),
        Case("flags/max-steps-zero", flag_case("--max-steps", "0"), "--max-steps"),
        Case("flags/max-time-negative", flag_case("--max-time", "-1"), "--max-time"),
        Case("flags/max-time-nan", flag_case("--max-time", "nan"), "--max-time"),
        Case("flags/rays-per-batch-negative", flag_case("--rays-per-batch", "-1"), "--rays-per-batch"),
        Case("flags/rays-per-batch-zero", flag_case("--rays-per-batch", "0"), "--rays-per-batch"),
        Case("flags/lr-nan", flag_case("--optimizers.fields.lr", "nan"), "lr"),
        Case("flags/lr-zero", flag_case("--optimizers.fields.lr", "0"), "lr"),
        Case("flags/lr-inf", flag_case("--optimizers.fields.lr", "inf"), "lr"),
        Case("flags/n-samples-zero", flag_case("--model.n-samples", "0"), "n-samples"),
        Case("flags/width-negative", flag_case("--model.field.width", "-3"), "width"),
        Case("flags/checkpoint-every-negative", flag_case("--checkpoint-every", "-1"), "--checkpoint-every"),
        Case("flags/eval-every-negative", flag_case("--eval-every", "-2"), "--eval-every"),
        Case("flags/log-every-zero", flag_case("--log-every", "0"), "--log-every"),
        Case("flags/keep-checkpoints-negative", flag_case("--keep-checkpoints", "-1"), "--keep-checkpoints"),
        Case("flags/eval-images-negative", flag_case("--eval-images", "-2"), "--eval-images"),
        Case("flags/patch-size-zero", flag_case("--sampler", "patches", "--patch-size", "0"), "--patch-size"),
        Case("flags/not-a-number", flag_case("--max-steps", "many"), "--max-steps"),
        Case("flags/unknown-flag", flag_case("--max-stepz", "3"), "--max-stepz"),
        Case("flags/unknown-loss", flag_case("--losses", "l7:1"), "l7"),
        Case("flags/ssim-on-rays", flag_case("--losses", "ssim:1"), "ssim"),
        Case("flags/unknown-method", lambda kit, case: ["train", "nerf-9000", "--data", str(kit.scene)], "nerf-9000"),
        Case("flags/output-dir-is-a-file", lambda kit, case: _output_is_file(kit, case), "output-dir"),
        Case("flags/experiment-name-escapes", flag_case("--experiment-name", "../../escaped"), "experiment-name"),
        Case("flags/data-missing", lambda kit, case: ["train", "tiny-nerf", "--data", str(case / "nope"), "--output-dir", str(case / "out")], "nope"),
        Case("flags/data-is-a-file", lambda kit, case: ["train", "tiny-nerf", "--data", str(kit.scene / tj), "--output-dir", str(case / "out")], tj),
        Case("flags/data-empty-folder", lambda kit, case: (case.joinpath("empty").mkdir(), ["train", "tiny-nerf", "--data", str(case / "empty")])[1], "empty"),
        Case("flags/wrong-format", flag_case("--data-format", "srn"), "scene"),
        Case("flags/synth-zero-scenes", lambda kit, case: ["data", "synth", "--output", str(case / "s"), "--num-scenes", "0"], "num-scenes"),
        Case("flags/render-frames-zero", run_case(lambda r: None, "render", "--frames", "0"), "--frames"),
        Case("flags/eval-max-images-zero", run_case(lambda r: None, "eval", "--max-images", "0"), "--max-images"),
        Case("flags/eval-unknown-scene", run_case(lambda r: None, "eval", "--scene", "nope"), "nope"),
        # -- run folders (eval, render, resume)
        Case("run/missing", lambda kit, case: ["eval", "--run", str(case / "nope")], "nope"),
        Case("run/is-a-file", lambda kit, case: ["eval", "--run", str(kit.run / "config.json")], "config.json"),
        Case("run/config-malformed", run_case(lambda r: (r / "config.json").write_text("{")), "config.json"),
        Case(
            "run/config-wrong-types",
            run_case(lambda r: edit_json(r / "config.json", lambda c: c["method"].__setitem__("rays_per_batch", "many"))),
            "config.json",
        ),
        Case("run/config-data-moved", run_case(lambda r: edit_json(r / "config.json", set_key("data", "/nonexistent/scene"))), "nonexistent"),
        Case("run/no-checkpoint", run_case(lambda r: shutil.rmtree(r / "checkpoints")), "checkpoint"),
        Case("run/checkpoint-step-string", run_case(lambda r: _damage_checkpoint(r, ".json", lambda p: edit_json(p, set_key("step", "four")))), "step-"),
        Case("run/checkpoint-json-cut", run_case(lambda r: _damage_checkpoint(r, ".json", _truncate)), "step-"),
        Case("run/checkpoint-tensors-half", run_case(lambda r: _damage_checkpoint(r, ".safetensors", _truncate)), "step-"),
        Case("run/checkpoint-tensors-empty", run_case(lambda r: _damage_checkpoint(r, ".safetensors", lambda p: p.write_bytes(b""))), "step-"),
        Case("run/checkpoint-tensors-random", run_case(lambda r: _damage_checkpoint(r, ".safetensors", lambda p: p.write_bytes(os.urandom(4096)))), "step-"),
        Case("run/checkpoint-tensors-half-render", run_case(lambda r: _damage_checkpoint(r, ".safetensors", _truncate), "render", "--frames", "1"), "step-"),
        Case("run/checkpoint-tensors-half-resume", run_case(lambda r: _damage_checkpoint(r, ".safetensors", _truncate), "resume"), "step-"),
        Case("run/resume-changes-architecture", run_case(lambda r: None, "resume", "--model.field.width", "32"), "width"),
        Case("run/resume-changes-data", run_case(lambda r: None, "resume", "--data", "/tmp"), "--data"),
        Case("run/resume-missing", lambda kit, case: ["train", "--resume", str(case / "nope")], "nope"),
        Case("run/resume-wrong-method", lambda kit, case: ["train", "vanilla-nerf", "--resume", str(kit.run)], "tiny-nerf"),
        # -- autoencoders (--ae)
        Case("ae/missing", ae_case(lambda case: case / "no-ae"), "no-ae"),
        Case("ae/truncated-safetensors", ae_case(lambda case: _ae_folder(case, b"\x08\x00\x00\x00\x00\x00\x00\x00{}")), "diffusion_pytorch_model.safetensors"),
        Case("ae/random-safetensors", ae_case(lambda case: _ae_folder(case, os.urandom(2048))), "diffusion_pytorch_model.safetensors"),
        Case("ae/malicious-pickle", ae_case(_malicious_pickle), "model.ckpt"),
        Case("ae/text-file", ae_case(lambda case: _text_file(case / "ae.safetensors")), "ae.safetensors"),
        Case("ae-train/missing-data", lambda kit, case: ["ae", "train", "--data", str(case / "nope"), "--output-dir", str(case / "out")], "nope"),
        Case(
            "ae-train/bad-camera-data", lambda kit, case: _ae_train_on(case, kit, lambda s: edit_json(s / tj, set_key("camera_angle_x", "x"))), "camera_angle_x"
        ),
        Case("ae-train/corrupt-image", lambda kit, case: _ae_train_on(case, kit, lambda s: (s / "train" / "r_1.png").write_bytes(b"xx")), "r_1"),
        Case(
            "ae-train/steps-negative",
            lambda kit, case: ["ae", "train", "--data", str(kit.scene), "--max-steps", "-1", "--output-dir", str(case / "out")],
            "--max-steps",
        ),
    ]
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


def _text_file(path: Path) -> Path:
    path.write_text("hello")
    return path


def _rewrite_first_number(path: Path, value: str) -> None:
    lines = path.read_text().splitlines()
    lines[0] = " ".join([value, *lines[0].split()[1:]])
    path.write_text("\n".join(lines) + "\n")


def _opencv_empty(kit: Kit, case: Path) -> list[str]:
    scene = copy_scene(kit, case)
    (scene / "transforms_opencv.json").write_text('{"fl_x": 20, "frames": []}')
    return ["train", "tiny-nerf", "--data", str(scene), "--data-format", "opencv", "--output-dir", str(case / "out"), *TRAIN]


def _output_is_file(kit: Kit, case: Path) -> list[str]:
    (case / "file").write_text("x")
    return ["train", "tiny-nerf", "--data", str(kit.scene), "--output-dir", str(case / "file"), *TRAIN]


def _ae_train_on(case: Path, kit: Kit, damage: Callable[[Path], None]) -> list[str]:
    scene = copy_scene(kit, case)
    damage(scene)
    return ["ae", "train", "--data", str(scene), "--max-steps", "2", "--no-progress", "--output-dir", str(case / "out")]


def listing(root: Path) -> dict[str, float]:
    """Every file under `root`: {path: mtime in ns}."""
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def run_drill(kit: Kit, cases: list[Case] | None = None, runner: Callable[[list[str]], Outcome] = run_latlas) -> list[tuple[Case, Outcome, list[str]]]:
    """Runs each case in its own folder under kit.work, from an empty working directory inside it; returns
    (case, outcome, files written anywhere under kit.work's parent except the case's out/ and run/ folders).
    `runner`: run_latlas (in this process, fast) or run_latlas_process (a real `latlas` process)."""
    results = []
    here = Path.cwd()
    root = kit.work.parent
    for case in cases or bad_input_cases():
        folder = kit.work / case.name.replace("/", "__")
        folder.mkdir(parents=True)
        argv = case.build(kit, folder)
        (folder / "cwd").mkdir()
        before = listing(root)
        os.chdir(folder / "cwd")
        try:
            outcome = runner(argv)
        finally:
            os.chdir(here)
        outputs = (folder / "out", folder / "run")
        changed = [p for p, t in listing(root).items() if before.get(p) != t]
        stray = sorted(p for p in changed if not any(o in Path(p).parents for o in outputs))
        if (folder / "pwned").exists():
            stray.append(str(folder / "pwned"))
        results.append((case, outcome, stray))
    return results
