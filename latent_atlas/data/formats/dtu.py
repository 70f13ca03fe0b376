"""DTU as IDR/NeuS/VolSDF ship it: image/*.png, optional mask/*.png, and cameras.npz holding per view
`world_mat_i` (a 4x4 projection K [R | t]) and `scale_mat_i` (normalisation: the object inside the unit
sphere). The projection of the normalised scene, world_mat @ scale_mat, is decomposed into intrinsics and a
camera-to-world pose (RQ decomposition)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from latent_atlas.cameras import OPENCV_TO_OPENGL
from latent_atlas.data.formats.common import build_split, holdout_indices
from latent_atlas.data.images import IMAGE_EXTENSIONS, read_rgba, write_png
from latent_atlas.data.scene import SceneData
from latent_atlas.data.validation import check_pose
from latent_atlas.errors import DataError


def is_dtu(folder: Path) -> bool:
    return (folder / "cameras.npz").is_file() and (folder / "image").is_dir()


def decompose_projection(projection: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P [3, 4] = K [R | t] -> (K [3, 3] with K[2, 2] = 1 and a positive diagonal, camera-to-world [4, 4] in
    OpenCV axes). Raises ValueError for a singular or non-finite P."""
    p = np.asarray(projection, dtype=np.float64)
    if p.shape != (3, 4) or not np.isfinite(p).all():
        raise ValueError("the projection must be 3x4 finite numbers")
    m = p[:, :3]
    if abs(np.linalg.det(m)) < 1e-12:
        raise ValueError("the projection's 3x3 part is singular")
    if np.linalg.det(m) < 0:  # P is defined up to scale: pick the sign that gives a proper rotation
        p, m = -p, -m
    # RQ decomposition of m through QR of its row-and-column-reversed transpose
    flip = np.eye(3)[::-1]
    q, r = np.linalg.qr((flip @ m).T)
    k = flip @ r.T @ flip
    rotation = flip @ q.T
    signs = np.diag(np.sign(np.diag(k)))
    k, rotation = k @ signs, signs @ rotation
    centre = -np.linalg.solve(m, p[:, 3])
    pose = np.eye(4)
    pose[:3, :3] = rotation.T
    pose[:3, 3] = centre
    return k / k[2, 2], pose


def _read_matrices(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: np.asarray(data[key]) for key in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(path, f"not a readable .npz of matrices ({type(exc).__name__})") from None


def parse_dtu(folder: Path) -> SceneData:
    """Parses a DTU scene folder; masks (mask/, white = object) become alpha; every 10th view is held out."""
    npz = folder / "cameras.npz"
    matrices = _read_matrices(npz)
    images = sorted(p for p in (folder / "image").iterdir() if p.suffix in IMAGE_EXTENSIONS)
    if not images:
        raise DataError(folder / "image", "no images")
    masks = sorted(p for p in (folder / "mask").iterdir() if p.suffix in IMAGE_EXTENSIONS) if (folder / "mask").is_dir() else []
    if masks and len(masks) != len(images):
        raise DataError(folder / "mask", f"{len(masks)} masks for {len(images)} images")
    poses, intrinsics = [], []
    for i in range(len(images)):
        world, scale = matrices.get(f"world_mat_{i}"), matrices.get(f"scale_mat_{i}", np.eye(4))
        if world is None:
            raise DataError(npz, f"no world_mat_{i} for {images[i].name}")
        if world.shape != (4, 4) or scale.shape != (4, 4):
            raise DataError(npz, f"world_mat_{i} and scale_mat_{i} must be 4x4")
        try:
            k, pose = decompose_projection((world @ scale)[:3, :4])
        except ValueError as exc:
            raise DataError(npz, f"world_mat_{i}: {exc}") from None
        poses.append(check_pose(torch.from_numpy(pose), npz, f"view {i}") @ OPENCV_TO_OPENGL)
        intrinsics.append((float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2])))
    train, held = holdout_indices(len(images))
    splits = {}
    for split, idx in (("train", train), ("val", held), ("test", held)):
        if idx:
            built = build_split([images[i] for i in idx], [poses[i] for i in idx], [intrinsics[i] for i in idx], source=npz)
            if masks:
                alpha = torch.stack([read_rgba(masks[i])[..., 0] for i in idx])
                if alpha.shape != built.images.shape[:3]:
                    raise DataError(folder / "mask", "masks and images differ in size")
                built.images[..., 3] = torch.where(alpha > 127, 255, 0).to(torch.uint8)
            splits[split] = built
    return SceneData(splits=splits, source=folder, data_format="dtu")


def write_dtu(
    folder: Path,
    images: torch.Tensor,
    camera_to_worlds: torch.Tensor,
    focal: float,
    centre: tuple[float, float],
    scale: float,
    shift: tuple[float, float, float],
) -> None:
    """Writes views as a DTU folder: images [N, H, W, 4] float (RGB on black, alpha as mask/), OpenGL
    camera_to_worlds [N, 4, 4]; the stored world is the scene scaled by `scale` and moved by `shift`, with
    scale_mat_i undoing it (as DTU's own files do)."""
    (folder / "image").mkdir(parents=True, exist_ok=True)
    (folder / "mask").mkdir(exist_ok=True)
    k = np.array([[focal, 0, centre[0]], [0, focal, centre[1]], [0, 0, 1.0]])
    scale_mat = np.diag([scale, scale, scale, 1.0])
    scale_mat[:3, 3] = shift
    arrays = {}
    for i in range(images.shape[0]):
        rgb = images[i, ..., :3] * images[i, ..., 3:4]
        write_png(folder / "image" / f"{i:06d}.png", rgb)
        write_png(folder / "mask" / f"{i:06d}.png", images[i, ..., 3:4].expand(*images.shape[1:3], 3))
        opencv_c2w = (camera_to_worlds[i].double() @ OPENCV_TO_OPENGL.double()).numpy()
        w2c = np.linalg.inv(opencv_c2w)
        projection = np.eye(4)
        projection[:3, :4] = k @ w2c[:3, :4]
        arrays[f"world_mat_{i}"] = projection @ np.linalg.inv(scale_mat)
        arrays[f"scale_mat_{i}"] = scale_mat
    np.savez(folder / "cameras.npz", **arrays)
