"""Pinhole cameras in OpenGL axes (x right, y up, looking down -z) and ray generation."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

# Flips the y and z camera axes: OpenCV (x right, y down, z forward) <-> OpenGL.
OPENCV_TO_OPENGL = torch.diag(torch.tensor([1.0, -1.0, -1.0, 1.0]))


@dataclass
class RayBundle:
    """A batch of rays: origins/directions [n, 3] (unit directions), near/far [n, 1], optional camera indices [n]."""

    origins: Tensor
    directions: Tensor
    near: Tensor
    far: Tensor
    camera_indices: Tensor | None = None
    """[n] index of each ray's training camera (appearance embeddings); None for novel views."""
    metadata: dict[str, Tensor] = field(default_factory=dict)
    """Per-ray values from the frames' metadata, each [n, k] (e.g. 'time' [n, 1] of a dynamic scene)."""
    radii: Tensor | None = None
    """[n, 1] radius of each ray's pixel footprint per unit distance (mip-NeRF's cones); None when unknown."""

    def __len__(self) -> int:
        return self.origins.shape[0]

    def __getitem__(self, index) -> RayBundle:
        cams = None if self.camera_indices is None else self.camera_indices[index]
        radii = None if self.radii is None else self.radii[index]
        metadata = {k: v[index] for k, v in self.metadata.items()}
        return RayBundle(self.origins[index], self.directions[index], self.near[index], self.far[index], cams, metadata, radii)

    def to(self, device: torch.device | str) -> RayBundle:
        cams = None if self.camera_indices is None else self.camera_indices.to(device)
        radii = None if self.radii is None else self.radii.to(device)
        tensors = (t.to(device) for t in (self.origins, self.directions, self.near, self.far))
        return RayBundle(*tensors, cams, {k: v.to(device) for k, v in self.metadata.items()}, radii)


@dataclass
class Cameras:
    """A batch of N pinhole cameras.

    camera_to_worlds: [N, 4, 4] OpenGL axes; fx, fy, cx, cy: [N] pixels;
    width, height: [N] integer pixel counts.
    """

    camera_to_worlds: Tensor
    fx: Tensor
    fy: Tensor
    cx: Tensor
    cy: Tensor
    width: Tensor
    height: Tensor

    def __post_init__(self) -> None:
        n = self.camera_to_worlds.shape[0]
        if self.camera_to_worlds.shape[1:] != (4, 4):
            raise ValueError(f"camera_to_worlds must be [N, 4, 4], got {list(self.camera_to_worlds.shape)}")
        for name in ("fx", "fy", "cx", "cy", "width", "height"):
            value = torch.as_tensor(getattr(self, name))
            if value.ndim == 0:
                value = value.expand(n)
            if value.shape != (n,):
                raise ValueError(f"{name} must be [N={n}], got {list(value.shape)}")
            dtype = torch.long if name in ("width", "height") else torch.float32
            setattr(self, name, value.to(dtype=dtype, device=self.camera_to_worlds.device))

    def __len__(self) -> int:
        return self.camera_to_worlds.shape[0]

    def __getitem__(self, index) -> Cameras:
        if isinstance(index, int):
            index = slice(index, index + 1)
        return Cameras(
            self.camera_to_worlds[index],
            self.fx[index],
            self.fy[index],
            self.cx[index],
            self.cy[index],
            self.width[index],
            self.height[index],
        )

    def to(self, device: torch.device | str) -> Cameras:
        return Cameras(*(getattr(self, f).to(device) for f in self.__dataclass_fields__))

    @staticmethod
    def cat(cameras: list[Cameras]) -> Cameras:
        """Concatenates camera batches along N."""
        return Cameras(*(torch.cat([getattr(c, f) for c in cameras]) for f in Cameras.__dataclass_fields__))

    def rescale(self, factor: float) -> Cameras:
        """Scales the image size by `factor` exactly (e.g. 1/8 for an f8 latent space).

        Intrinsics are multiplied by `factor` with no flooring; the new width and
        height must be whole numbers.
        """
        new_w = self.width.double() * factor
        new_h = self.height.double() * factor
        if not (torch.allclose(new_w, new_w.round()) and torch.allclose(new_h, new_h.round())):
            raise ValueError(f"rescaling by {factor} gives a non-integer image size ({new_w[0].item()} x {new_h[0].item()})")
        return Cameras(
            self.camera_to_worlds,
            self.fx * factor,
            self.fy * factor,
            self.cx * factor,
            self.cy * factor,
            new_w.round().long(),
            new_h.round().long(),
        )

    def pixel_directions(self, camera_indices: Tensor, pixel_x: Tensor, pixel_y: Tensor) -> tuple[Tensor, Tensor]:
        """Rays through pixel centres: origins [n, 3] and unit directions [n, 3] in world space.

        camera_indices, pixel_x (column), pixel_y (row): [n] integers.
        """
        i = camera_indices
        x = (pixel_x.float() + 0.5 - self.cx[i]) / self.fx[i]
        y = -(pixel_y.float() + 0.5 - self.cy[i]) / self.fy[i]
        dirs_cam = torch.stack([x, y, -torch.ones_like(x)], dim=-1)
        c2w = self.camera_to_worlds[i]
        dirs = torch.einsum("nij,nj->ni", c2w[:, :3, :3], dirs_cam)
        dirs = dirs / dirs.norm(dim=-1, keepdim=True)
        origins = c2w[:, :3, 3]
        return origins, dirs

    def image_pixels(self, camera_index: int) -> tuple[Tensor, Tensor]:
        """Row-major pixel coordinates of one full image: pixel_x, pixel_y [H*W]."""
        h, w = int(self.height[camera_index]), int(self.width[camera_index])
        device = self.camera_to_worlds.device
        ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
        return xs.reshape(-1), ys.reshape(-1)


class PackedCameras(Cameras):
    """The same cameras held in one tensor [N, 22] (pose, fx, fy, cx, cy, width, height; float32 holds the sizes
    exactly), for the many small records of a large scene set: a tensor object costs ~0.65 KB of memory whatever its
    size, so 7 of them per split were most of a scene's record once its views are on disk. Reads as Cameras (the
    fields are views made on access); `to()` and indexing return plain Cameras."""

    def __init__(self, cameras: Cameras):  # not the dataclass __init__: the fields are properties here
        n = len(cameras)
        columns = [cameras.camera_to_worlds.reshape(n, 16)] + [getattr(cameras, f)[:, None] for f in ("fx", "fy", "cx", "cy", "width", "height")]
        self.packed = torch.cat([c.to(torch.float32) for c in columns], dim=1)

    camera_to_worlds = property(lambda self: self.packed[:, :16].reshape(-1, 4, 4))  # type: ignore[assignment]
    fx = property(lambda self: self.packed[:, 16])  # type: ignore[assignment]
    fy = property(lambda self: self.packed[:, 17])  # type: ignore[assignment]
    cx = property(lambda self: self.packed[:, 18])  # type: ignore[assignment]
    cy = property(lambda self: self.packed[:, 19])  # type: ignore[assignment]
    width = property(lambda self: self.packed[:, 20].long())  # type: ignore[assignment]
    height = property(lambda self: self.packed[:, 21].long())  # type: ignore[assignment]


def random_window(generator: torch.Generator, width: int, height: int, size: int) -> tuple[int, int, int, int]:
    """A size x size square (cut to the image) at a random place of a width x height image: (x0, y0, w, h)."""
    w, h = min(size, width), min(size, height)
    x0 = int(torch.randint(width - w + 1, (1,), generator=generator))
    y0 = int(torch.randint(height - h + 1, (1,), generator=generator))
    return x0, y0, w, h


def window_pixels(window: tuple[int, int, int, int], device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """Row-major pixel coordinates of the rectangle (x0, y0, w, h): pixel_x, pixel_y [h*w]."""
    x0, y0, w, h = window
    ys, xs = torch.meshgrid(torch.arange(y0, y0 + h, device=device), torch.arange(x0, x0 + w, device=device), indexing="ij")
    return xs.reshape(-1), ys.reshape(-1)


def ray_box_intersection(origins: Tensor, directions: Tensor, box_min: Tensor, box_max: Tensor) -> tuple[Tensor, Tensor]:
    """Slab test: entry and exit distances t_near, t_far [n] of rays [n, 3] with an axis-aligned box.

    A ray that misses the box gets t_near > t_far.
    """
    safe = torch.where(directions.abs() < 1e-12, torch.full_like(directions, 1e-12), directions)
    inv = 1.0 / safe
    t0 = (box_min - origins) * inv
    t1 = (box_max - origins) * inv
    t_near = torch.minimum(t0, t1).amax(dim=-1)
    t_far = torch.maximum(t0, t1).amin(dim=-1)
    return t_near, t_far


def near_far_in_box(origins: Tensor, directions: Tensor, box_min: Tensor, box_max: Tensor, min_near: float = 0.05) -> tuple[Tensor, Tensor]:
    """Ray range inside the scene box: near, far [n, 1]; rays that miss it get near == far."""
    t_near, t_far = ray_box_intersection(origins, directions, box_min, box_max)
    near = t_near.clamp_min(min_near)
    far = torch.maximum(t_far, near)
    return near[:, None], far[:, None]


def look_at(position: Tensor, target: Tensor, up: Tensor) -> Tensor:
    """Camera-to-world [N, 4, 4] (OpenGL axes) for cameras at position [N, 3] looking at target [3]."""
    forward = target - position
    forward = forward / forward.norm(dim=-1, keepdim=True)
    right = torch.cross(forward, up.expand_as(forward), dim=-1)
    right = right / right.norm(dim=-1, keepdim=True)
    true_up = torch.cross(right, forward, dim=-1)
    c2w = torch.zeros(position.shape[0], 4, 4, dtype=position.dtype)
    c2w[:, :3, 0] = right
    c2w[:, :3, 1] = true_up
    c2w[:, :3, 2] = -forward
    c2w[:, :3, 3] = position
    c2w[:, 3, 3] = 1.0
    return c2w
