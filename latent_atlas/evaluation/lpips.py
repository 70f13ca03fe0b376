"""LPIPS (AlexNet backbone, the official v0.1 linear heads), computed only when both weight files are on disk:
the backbone `alexnet-owt-7be5be79.pth` (torchvision's, in the torch hub cache or a given folder) and the heads
`alex.pth` (the lpips package's weights/v0.1, or the same folder). Nothing is downloaded; when a file is
missing, `find_lpips_weights` says which, and metrics.json reports LPIPS as unavailable with that reason."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
from torch import Tensor, nn

from latent_atlas.errors import DataError

BACKBONE_FILE = "alexnet-owt-7be5be79.pth"
HEADS_FILE = "alex.pth"
CHANNELS = (64, 192, 384, 256, 256)
"""Channels of the five AlexNet ReLU outputs LPIPS compares."""
MIN_SIDE = 31
"""Smallest image side AlexNet's strides and poolings accept."""


def _hub_checkpoints() -> Path:
    torch_home = os.environ.get("TORCH_HOME", os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch"))
    return Path(torch_home) / "hub" / "checkpoints"


def _lpips_package_heads() -> Path | None:
    spec = importlib.util.find_spec("lpips")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "weights" / "v0.1" / HEADS_FILE


def find_lpips_weights(folder: Path | None = None) -> tuple[Path, Path] | str:
    """(backbone, heads) paths, or a one-line reason why LPIPS cannot be computed here."""
    backbones = [p for p in ([folder / BACKBONE_FILE] if folder else []) + [_hub_checkpoints() / BACKBONE_FILE] if p.is_file()]
    heads = [p for p in ([folder / HEADS_FILE] if folder else []) + [_lpips_package_heads()] if p is not None and p.is_file()]
    if not backbones:
        return f"no AlexNet backbone {BACKBONE_FILE} in {folder or '(no --lpips-weights)'} or {_hub_checkpoints()}"
    if not heads:
        return f"no LPIPS v0.1 heads {HEADS_FILE} in {folder or '(no --lpips-weights)'} or the lpips package"
    return backbones[0], heads[0]


class AlexLPIPS(nn.Module):
    """LPIPS distance with AlexNet features: unit-normalised channels, squared differences weighted by the
    linear heads, averaged over space, summed over the five layers."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            [
                nn.Conv2d(3, 64, 11, stride=4, padding=2),
                nn.Conv2d(64, 192, 5, padding=2),
                nn.Conv2d(192, 384, 3, padding=1),
                nn.Conv2d(384, 256, 3, padding=1),
                nn.Conv2d(256, 256, 3, padding=1),
            ]
        )
        self.heads = nn.ModuleList([nn.Conv2d(c, 1, 1, bias=False) for c in CHANNELS])
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))

    def features(self, x: Tensor) -> list[Tensor]:
        """x [B, 3, H, W] in [-1, 1] -> the five ReLU outputs."""
        x = (x - self.shift) / self.scale
        taps = []
        for i, conv in enumerate(self.convs):
            if i in (1, 2):  # max-pools after the first two ReLUs
                x = nn.functional.max_pool2d(x, 3, 2)
            x = torch.relu(conv(x))
            taps.append(x)
        return taps

    @torch.no_grad()
    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """LPIPS of images a, b [H, W, 3] in [0, 1]: a scalar."""
        fa = self.features(a.permute(2, 0, 1)[None] * 2 - 1)
        fb = self.features(b.permute(2, 0, 1)[None] * 2 - 1)
        total = torch.zeros(())
        for head, x, y in zip(self.heads, fa, fb):
            x = x / (x.norm(dim=1, keepdim=True) + 1e-10)
            y = y / (y.norm(dim=1, keepdim=True) + 1e-10)
            total = total + head((x - y) ** 2).mean()
        return total


def load_lpips(backbone: Path, heads: Path) -> AlexLPIPS:
    """AlexLPIPS with torchvision's AlexNet weights (`features.{0,3,6,8,10}`) and lpips' heads (`lin{i}.model.1`)."""
    model = AlexLPIPS()
    try:
        trunk = torch.load(backbone, map_location="cpu", weights_only=True)
        lins = torch.load(heads, map_location="cpu", weights_only=True)
        with torch.no_grad():
            for conv, index in zip(model.convs, (0, 3, 6, 8, 10)):
                conv.weight.copy_(trunk[f"features.{index}.weight"])
                conv.bias.copy_(trunk[f"features.{index}.bias"])
            for i, head in enumerate(model.heads):
                head.weight.copy_(lins[f"lin{i}.model.1.weight"])
    except (KeyError, RuntimeError, OSError, ValueError) as exc:
        raise DataError(backbone, f"not usable LPIPS weights with {heads.name} ({type(exc).__name__}: {str(exc).splitlines()[0][:100]})") from None
    return model.eval()
