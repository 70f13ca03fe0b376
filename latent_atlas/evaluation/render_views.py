"""Rendering whole images from a model, in ray chunks."""

from __future__ import annotations

import torch
from torch import Tensor

from latent_atlas.cameras import Cameras, RayBundle, near_far_in_box, window_pixels
from latent_atlas.data.scene import SceneSplit, composite_on_background
from latent_atlas.encodings.integrated import PIXEL_RADIUS
from latent_atlas.methods.base import Model
from latent_atlas.methods.upsampling_model import block_centres
from latent_atlas.spaces.image_space import ImageSpace, ViewScore

FrameMetadata = dict[str, Tensor]
"""One frame's metadata: name -> values [k] (e.g. {'time': tensor([0.25])})."""

IMAGE_OUTPUTS = ("color", "acc", "depth", "normals")
"""Per-ray outputs of a model gathered into images (those it renders)."""


def camera_rays(
    cameras: Cameras,
    camera_indices: Tensor,
    pixel_x: Tensor,
    pixel_y: Tensor,
    box_min: Tensor,
    box_max: Tensor,
    min_near: float = 0.05,
    training_cameras: bool = True,
) -> RayBundle:
    """Rays [n] through the given pixels, limited to the scene box (camera indices kept for training cameras)."""
    origins, directions = cameras.pixel_directions(camera_indices, pixel_x, pixel_y)
    near, far = near_far_in_box(origins, directions, box_min, box_max, min_near)
    radii = (PIXEL_RADIUS / cameras.fx.to(origins.device)[camera_indices])[:, None]  # a pixel's footprint per unit distance
    return RayBundle(origins, directions, near, far, camera_indices if training_cameras else None, radii=radii)


@torch.no_grad()
def render_image(
    model: Model, cameras: Cameras, index: int, background: Tensor, box_min: Tensor, box_max: Tensor, chunk: int = 4096, metadata: FrameMetadata | None = None
) -> dict[str, Tensor]:
    """Renders camera `index` over a constant background [C]: {'color': [H, W, C], 'acc': [H, W, 1], 'depth': [H, W, 1]}
    (+ 'normals' [H, W, 3] from models that render them); metadata: the frame's values, e.g. {'time': [1]}."""
    was_training = model.training
    model.eval()
    out = render_full_view(model, cameras, index, background, box_min, box_max, chunk, metadata=metadata)
    model.train(was_training)
    return out


def render_full_view(
    model: Model,
    cameras: Cameras,
    index: int,
    background: Tensor,
    box_min: Tensor,
    box_max: Tensor,
    chunk: int = 4096,
    training_cameras: bool = False,
    metadata: FrameMetadata | None = None,
    window: tuple[int, int, int, int] | None = None,
) -> dict[str, Tensor]:
    """Every pixel of camera `index` in the model's current mode, autograd as the caller has it: [H, W, ...];
    metadata: the frame's values ({'time': [1]}) given to every ray; window (x0, y0, w, h): only that rectangle,
    [h, w, ...] (models without neural upsampling)."""
    device = next(model.parameters()).device
    cameras = cameras.to(device)
    h, w = int(cameras.height[index]), int(cameras.width[index])
    k = getattr(model, "upsample_factor", 1)  # neural upsampling: a ray per k x k block, then the CNN
    if window is not None and k > 1:
        raise ValueError("a window of a view is rendered without neural upsampling only")
    renderer = model.inner if k > 1 else model
    if k > 1:
        zero = torch.zeros(1, device=device)
        hb, wb = -(-h // k), -(-w // k)  # blocks covering the image (a size that is no multiple of k is cropped)
        px, py = block_centres(zero, zero, wb * k, hb * k, k)
        background = model.feature_background(background.to(device))
    elif window is not None:
        w, h = window[2], window[3]
        px, py = window_pixels(window, device)
    else:
        px, py = cameras.image_pixels(index)
    idx = torch.full_like(px, index, dtype=torch.long)
    pieces: dict[str, list[Tensor]] = {}
    for start in range(0, px.shape[0], chunk):
        sl = slice(start, start + chunk)
        rays = camera_rays(cameras, idx[sl], px[sl], py[sl], box_min.to(device), box_max.to(device), training_cameras=training_cameras)
        if k > 1:
            rays.radii = rays.radii * k
        rays.metadata = {name: v.reshape(1, -1).to(device).expand(len(rays), -1) for name, v in (metadata or {}).items()}
        out = renderer(rays, background.to(device).expand(len(rays), -1))
        for key in IMAGE_OUTPUTS:
            if key in out:
                pieces.setdefault(key, []).append(out[key])
    if k > 1:
        low = {name: torch.cat(v).reshape(1, hb, wb, -1) for name, v in pieces.items()}
        full = {name: v.repeat_interleave(k, dim=1).repeat_interleave(k, dim=2)[0] for name, v in low.items()}
        full["color"] = model.upsample(low["color"])[0]
        return {name: v[:h, :w] for name, v in full.items()}
    return {name: torch.cat(v).reshape(h, w, -1) for name, v in pieces.items()}


def score_rendered_view(
    space: ImageSpace, render: Tensor, split: SceneSplit, rgb_split: SceneSplit, index: int, background_value: Tensor, rgb_background: Tensor
) -> ViewScore:
    """The space's score of a render [h, w, C] of view `index`: against the split's values (composited on the
    space's background [C]) and the RGB split's image (on the RGB background [3])."""
    target_values = composite_on_background(split.rgba(index), background_value.cpu())
    rgb_target = composite_on_background(rgb_split.rgba(index), rgb_background.cpu())
    return space.score_view(render.cpu(), target_values, rgb_target)
