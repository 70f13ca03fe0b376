"""Every bad input raises DataError naming the file and the problem."""

import json
import shutil

import pytest
from PIL import Image

from latent_atlas.data.loading import load_scene
from latent_atlas.errors import DataError


@pytest.fixture
def scene_copy(micro_scene, tmp_path):
    folder = tmp_path / "scene"
    shutil.copytree(micro_scene, folder)
    return folder


def _error(folder, fmt="auto") -> DataError:
    with pytest.raises(DataError) as info:
        load_scene(folder, fmt)
    assert "\n" not in str(info.value)
    return info.value


def test_missing_folder(tmp_path):
    err = _error(tmp_path / "nope")
    assert "not found" in str(err) and "nope" in str(err)


def test_missing_image(scene_copy):
    (scene_copy / "train" / "r_3.png").unlink()
    err = _error(scene_copy)
    assert "r_3" in str(err) and "not found" in str(err)


def test_malformed_json(scene_copy):
    (scene_copy / "transforms_train.json").write_text('{"camera_angle_x": 0.69, "frames": [')
    err = _error(scene_copy)
    assert err.path.name == "transforms_train.json" and "malformed JSON" in str(err)


def test_mixed_image_sizes(scene_copy):
    Image.new("RGBA", (20, 16)).save(scene_copy / "train" / "r_2.png")
    err = _error(scene_copy)
    assert err.path.name == "r_2.png" and "mixed sizes" in str(err)


def test_pose_not_4x4(scene_copy):
    meta = json.loads((scene_copy / "transforms_train.json").read_text())
    meta["frames"][1]["transform_matrix"] = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    (scene_copy / "transforms_train.json").write_text(json.dumps(meta))
    err = _error(scene_copy)
    assert "frame 1" in str(err) and "4x4" in str(err)


def test_missing_key(scene_copy):
    meta = json.loads((scene_copy / "transforms_train.json").read_text())
    del meta["camera_angle_x"]
    (scene_copy / "transforms_train.json").write_text(json.dumps(meta))
    assert "camera_angle_x" in str(_error(scene_copy))


def test_unknown_format(scene_copy):
    err = _error(scene_copy, "colmap-binary")
    assert "unknown data format" in str(err)


def test_folder_without_known_layout(tmp_path):
    (tmp_path / "empty").mkdir()
    assert "no known scene layout" in str(_error(tmp_path / "empty"))


def test_corrupt_image(scene_copy):
    (scene_copy / "val" / "r_0.png").write_bytes(b"not a png")
    err = _error(scene_copy)
    assert err.path.name == "r_0.png" and "cannot read image" in str(err)


def test_nerfstudio_lens_distortion_is_refused(scene_copy):
    meta = json.loads((scene_copy / "transforms.json").read_text())
    meta["k1"] = 0.1
    (scene_copy / "transforms.json").write_text(json.dumps(meta))
    assert "distortion" in str(_error(scene_copy, "nerfstudio"))


def test_nerfstudio_declared_size_must_match_images(scene_copy):
    meta = json.loads((scene_copy / "transforms.json").read_text())
    meta["w"] = meta["h"] = 32  # images are 16x16: the intrinsics would be wrong
    (scene_copy / "transforms.json").write_text(json.dumps(meta))
    err = _error(scene_copy, "nerfstudio")
    assert "image is 16x16 but transforms.json declares w=32, h=32" in str(err)
