"""The same scene through each layout gives the same images and rays."""

import json
import shutil

import numpy as np
import torch

from latent_atlas.cameras import OPENCV_TO_OPENGL
from latent_atlas.data.loading import detect_format, load_scene
from latent_atlas.evaluation.render_views import camera_rays


def _all_rays(split, scene):
    n = len(split)
    rays = []
    for i in range(n):
        px, py = split.cameras.image_pixels(i)
        rays.append(camera_rays(split.cameras, torch.full_like(px, i), px, py, scene.box_min, scene.box_max))
    return rays


def test_blender_and_nerfstudio_give_same_rays(micro_scene):
    blender = load_scene(micro_scene, "blender")
    nerfstudio = load_scene(micro_scene, "nerfstudio")
    assert detect_format(micro_scene) == "blender"
    for split in ("train", "val", "test"):
        a, b = blender.split(split), nerfstudio.split(split)
        assert torch.equal(a.images, b.images)
        for ra, rb in zip(_all_rays(a, blender), _all_rays(b, nerfstudio)):
            assert torch.allclose(ra.origins, rb.origins, atol=1e-5)
            assert torch.allclose(ra.directions, rb.directions, atol=1e-5)
            assert torch.allclose(ra.far, rb.far, atol=1e-4)


def test_shared_dataset_layouts_agree_when_present():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "objects64" / "suzanne"
    if not folder.is_dir():
        import pytest

        pytest.skip("../shared/datasets not beside the checkout")
    a, b = load_scene(folder, "blender").split("test"), load_scene(folder, "nerfstudio").split("test")
    assert torch.allclose(a.cameras.fx, b.cameras.fx, atol=1e-3)
    assert torch.allclose(a.cameras.camera_to_worlds, b.cameras.camera_to_worlds)
    assert a.cameras.fx[0].item() == __import__("pytest").approx(88.889, abs=1e-3)


def test_opencv_layout_is_converted_to_opengl(micro_scene, tmp_path):
    folder = tmp_path / "cv"
    shutil.copytree(micro_scene, folder)
    meta = json.loads((folder / "transforms.json").read_text())
    for frame in meta["frames"]:
        gl = torch.tensor(frame["transform_matrix"])
        frame["transform_matrix"] = (gl @ OPENCV_TO_OPENGL).tolist()  # the flip is its own inverse
    (folder / "transforms.json").unlink()
    for split in ("train", "val", "test"):
        (folder / f"transforms_{split}.json").unlink()
    (folder / "transforms_opencv.json").write_text(json.dumps(meta))
    assert detect_format(folder) == "opencv"
    ref, cv = load_scene(micro_scene, "nerfstudio").split("train"), load_scene(folder).split("train")
    assert torch.allclose(ref.cameras.camera_to_worlds, cv.cameras.camera_to_worlds, atol=1e-6)


def test_nerfstudio_without_split_lists_and_per_frame_intrinsics(micro_scene, tmp_path):
    folder = tmp_path / "ns"
    shutil.copytree(micro_scene, folder)
    (folder / "transforms_train.json").unlink()
    meta = json.loads((folder / "transforms.json").read_text())
    for key in ("train_filenames", "val_filenames", "test_filenames", "fl_x", "fl_y"):
        meta.pop(key)
    for frame in meta["frames"]:
        frame["fl_x"] = frame["fl_y"] = 21.0
    (folder / "transforms.json").write_text(json.dumps(meta))
    scene = load_scene(folder)
    n = len(meta["frames"])
    assert len(scene.split("train")) + len(scene.split("test")) == n  # 90/10 split: every 10th held out
    assert len(scene.split("test")) == len(range(0, n, 10))
    assert torch.allclose(scene.split("train").cameras.fx, torch.tensor(21.0))


def test_auto_scale_centres_and_fits_cameras_in_unit_box(micro_scene, tmp_path):
    folder = tmp_path / "moved"
    shutil.copytree(micro_scene, folder)
    (folder / "transforms_train.json").unlink()
    meta = json.loads((folder / "transforms.json").read_text())
    for frame in meta["frames"]:
        m = np.array(frame["transform_matrix"])
        m[:3, 3] = m[:3, 3] * 5.0 + np.array([10.0, -4.0, 2.0])  # scaled and shifted scene
        frame["transform_matrix"] = m.tolist()
    (folder / "transforms.json").write_text(json.dumps(meta))
    scaled = load_scene(folder, auto_scale_poses=True)
    original = load_scene(micro_scene)
    positions = torch.cat([scaled.split(s).cameras.camera_to_worlds[:, :3, 3] for s in ("train", "val", "test")])
    assert positions.abs().max().item() == __import__("pytest").approx(1.0, abs=1e-5)
    # directions are unchanged by translation and uniform scaling, and the focus point (origin) is kept
    a, b = scaled.split("train").cameras.camera_to_worlds, original.split("train").cameras.camera_to_worlds
    assert torch.allclose(a[:, :3, :3], b[:, :3, :3], atol=1e-6)
    ratio = a[:, :3, 3] / b[:, :3, 3]
    assert torch.allclose(ratio, ratio[0, 0].expand_as(ratio), atol=1e-3)


def test_srn_layout(tmp_path, micro_scene):
    """Writes an SRN folder (OpenCV poses, intrinsics.txt) from the blender scene and compares rays."""
    blender = load_scene(micro_scene, "blender").split("train")
    folder = tmp_path / "srn"
    (folder / "rgb").mkdir(parents=True)
    (folder / "pose").mkdir()
    for i in range(len(blender)):
        shutil.copy(blender.image_paths[i], folder / "rgb" / f"{i:06d}.png")
        cv = blender.cameras.camera_to_worlds[i] @ OPENCV_TO_OPENGL
        (folder / "pose" / f"{i:06d}.txt").write_text(" ".join(f"{v:.8f}" for v in cv.flatten().tolist()))
    f, c = blender.cameras.fx[0].item(), blender.cameras.cx[0].item()
    # intrinsics given at twice the stored resolution: the parser rescales them
    (folder / "intrinsics.txt").write_text(f"{2 * f} {2 * c} {2 * c} 0.\n0. 0. 0.\n1.\n{2 * blender.height} {2 * blender.width}\n")
    scene = load_scene(folder)
    assert scene.data_format == "srn"
    train = scene.split("train")
    kept = [i for i in range(len(blender)) if i % 10 != 0]
    assert torch.allclose(train.cameras.camera_to_worlds, blender.cameras.camera_to_worlds[kept], atol=1e-5)
    assert torch.allclose(train.cameras.fx, blender.cameras.fx[kept], atol=1e-4)
