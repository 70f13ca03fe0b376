"""Property: whatever a scene's metadata files say, `load_scene` either raises one DataError line naming a file
of the scene, or returns cameras that are valid (finite positive focal lengths, principal points in the
image, proper rotations). Hypothesis replaces, deletes or garbles one value at a time."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from latent_atlas.data.loading import load_scene
from latent_atlas.errors import DataError
from tests.reliability.bad_inputs import to_srn

FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))

NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**12), 10**12), st.sampled_from([0, -1, 1e-30, 1e30, math.pi]))
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    NUMBERS,
    st.text(max_size=6),
    st.lists(NUMBERS, max_size=5),
    st.lists(st.lists(NUMBERS, min_size=3, max_size=4), min_size=3, max_size=4),
    st.dictionaries(st.text(max_size=3), NUMBERS, max_size=2),
)


def _key_paths(value, prefix=()) -> list[tuple]:
    """Every key path in a JSON tree (dict keys and list indices), parents before children."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _key_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value[:3]):  # the first frames and matrix rows are enough
            found += _key_paths(child, (*prefix, i))
    return found


def _mutate(tree, path: tuple, action: str, value):
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    if action == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = value


def _assert_valid(scene) -> None:
    for split in scene.splits.values():
        cams = split.cameras
        assert torch.isfinite(cams.camera_to_worlds).all()
        assert (cams.fx > 0).all() and (cams.fy > 0).all() and torch.isfinite(cams.fx).all() and torch.isfinite(cams.fy).all()
        assert ((cams.cx >= 0) & (cams.cx <= cams.width) & (cams.cy >= 0) & (cams.cy <= cams.height)).all()
        rotation = cams.camera_to_worlds[:, :3, :3].double()
        eye = torch.eye(3, dtype=torch.float64).expand_as(rotation)
        assert (rotation.transpose(1, 2) @ rotation - eye).abs().max() < 0.02
        assert ((torch.linalg.det(rotation) - 1).abs() < 0.02).all()


def _outcome(folder: Path, fmt: str) -> None:
    """Loads the scene: a DataError must be one line naming a path inside `folder`; success must be valid."""
    try:
        scene = load_scene(folder, fmt)
    except DataError as err:
        assert "\n" not in str(err)
        assert folder in (err.path, *err.path.parents) or "outside" in str(err), str(err)
        return
    _assert_valid(scene)


@pytest.fixture(scope="module")
def scene_copy(kit, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz") / "scene"
    shutil.copytree(kit.scene, folder)
    return folder


@FUZZ
@given(data=st.data())
def test_mutated_json_is_rejected_or_valid(scene_copy, data):
    fmt, name = data.draw(st.sampled_from([("blender", "transforms_train.json"), ("nerfstudio", "transforms.json")]))
    path = scene_copy / name
    original = path.read_text()
    meta = json.loads(original)
    key_path = data.draw(st.sampled_from(_key_paths(meta)))
    _mutate(meta, key_path, data.draw(st.sampled_from(["replace", "replace", "delete"])), data.draw(JUNK))
    if data.draw(st.booleans()) and isinstance(meta, dict):  # sometimes a second key nobody expects
        meta[data.draw(st.sampled_from(["fl_x", "cx", "w", "camera_angle_y", "k1", "time"]))] = data.draw(JUNK)
    try:
        path.write_text(json.dumps(meta))  # NaN and Infinity become JSON's non-standard literals
        _outcome(scene_copy, fmt)
    finally:
        path.write_text(original)


@FUZZ
@given(cut=st.floats(0.0, 0.99), junk=st.binary(max_size=64), where=st.integers(0, 10**6))
def test_damaged_image_is_rejected_or_read(scene_copy, cut, junk, where):
    image = scene_copy / "train" / "r_1.png"
    original = image.read_bytes()
    damaged = original[: int(len(original) * cut)] if cut > 0.5 else original[: where % len(original)] + junk + original[where % len(original) + len(junk) :]
    try:
        image.write_bytes(damaged)
        _outcome(scene_copy, "blender")
    finally:
        image.write_bytes(original)


@pytest.fixture(scope="module")
def srn_copy(kit, tmp_path_factory) -> Path:
    return to_srn(kit.scene, tmp_path_factory.mktemp("fuzz-srn") / "srn")


TOKENS = st.one_of(st.sampled_from(["nan", "inf", "-inf", "0", "-1", "1e30", "x", "", "1", "0.5"]), NUMBERS.map(str))


@FUZZ
@given(which=st.sampled_from(["intrinsics.txt", "pose/000000.txt"]), index=st.integers(0, 19), token=TOKENS, drop=st.booleans())
def test_mutated_srn_text_is_rejected_or_valid(srn_copy, which, index, token, drop):
    path = srn_copy / which
    original = path.read_text()
    tokens = original.split(" ") if which.startswith("pose") else original.replace("\n", " \n ").split(" ")
    i = index % len(tokens)
    if tokens[i] == "\n":
        i = (i + 1) % len(tokens)
    tokens = tokens[:i] + tokens[i + 1 :] if drop else [*tokens[:i], token, *tokens[i + 1 :]]
    try:
        path.write_text(" ".join(tokens).replace(" \n ", "\n"))
        _outcome(srn_copy, "srn")
    finally:
        path.write_text(original)
