"""An autoencoder's ceiling: its own reconstruction of a scene's views, the decoded PSNR a perfect latent field reaches.

A latent run's `metrics_ae` is measured with its fine-tuned decoder (the decoded phase trains it on renders, which
often makes it worse at decoding true latents); this is the autoencoder as given.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from latent_atlas.data.loading import load_scene
from latent_atlas.data.scene import composite_on_background
from latent_atlas.evaluation.metrics import psnr


def views_on_white(folders: list[Path], views: int | None = None, split: str = "test") -> Tensor:
    """The first `views` (None: all) views of `split` of each scene folder on white: images [B, 3, H, W] in [-1, 1]."""
    batches = []
    for folder in folders:
        rgba = load_scene(folder).splits[split].rgba(slice(0, views))
        batches.append((composite_on_background(rgba, torch.ones(3)) * 2 - 1).permute(0, 3, 1, 2))
    return torch.cat(batches)


@torch.no_grad()
def reconstruction_psnr(model, images: Tensor) -> float:
    """Mean PSNR (dB) of model.decode(model.encode(images)) against images [B, 3, H, W] in [-1, 1], 8 at a time."""
    recon = torch.cat([model.decode(model.encode(chunk)[0]) for chunk in images.split(8)])
    scores = [psnr(((r + 1) / 2).clamp(0, 1).permute(1, 2, 0), ((x + 1) / 2).permute(1, 2, 0)) for r, x in zip(recon, images)]
    return sum(scores) / len(scores)


def autoencoder_ceiling(ae: str, folder: Path, views: int | None = None) -> float:
    """Reconstruction PSNR (dB) of the autoencoder `ae` (any --ae value) as given on the first `views` (None: all) test
    views of the scene `folder`, composited on white."""
    from latent_atlas.spaces.ae_loading import load_autoencoder

    return reconstruction_psnr(load_autoencoder(ae).float().eval(), views_on_white([folder], views))
