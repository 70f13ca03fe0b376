"""Colour spaces and tone curves a pixel loss can compare images in (pure functions on [..., 3] sRGB in [0, 1]).

HSV here has real chroma (the NeRF Atlas code's conversion had none); for a loss, hue is an angle, so the
loss compares the HSV cone's coordinates (s v cos 2 pi h, s v sin 2 pi h, v), which are continuous where hue
wraps and where it is undefined (greys).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

ColourSpace = Literal["rgb", "hsv", "luminance", "xyz"]
ToneMap = Literal["none", "gamma", "reinhard"]

SRGB_TO_XYZ = torch.tensor(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
"""Linear sRGB (D65) -> CIE XYZ."""


def srgb_to_linear(x: Tensor) -> Tensor:
    """The sRGB transfer function undone: [..., C] in [0, 1] -> linear light."""
    x = x.clamp(0, 1)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055).clamp_min(1e-12) ** 2.4)


def rgb_to_xyz(rgb: Tensor) -> Tensor:
    """sRGB [..., 3] -> CIE XYZ [..., 3] (D65 white: 0.9505, 1.0, 1.0888)."""
    return srgb_to_linear(rgb) @ SRGB_TO_XYZ.to(rgb).T


def rgb_to_luminance(rgb: Tensor) -> Tensor:
    """sRGB [..., 3] -> relative luminance Y [..., 1] (Rec. 709 / sRGB primaries, linear light)."""
    return rgb_to_xyz(rgb)[..., 1:2]


def rgb_to_hsv(rgb: Tensor) -> Tensor:
    """sRGB [..., 3] -> HSV [..., 3]: hue in [0, 1) (red 0, green 1/3, blue 2/3), saturation, value."""
    r, g, b = rgb.unbind(-1)
    value, arg = rgb.max(-1)
    chroma = value - rgb.min(-1).values
    safe = chroma.clamp_min(1e-12)
    hue = torch.where(arg == 0, ((g - b) / safe) % 6, torch.where(arg == 1, (b - r) / safe + 2, (r - g) / safe + 4)) / 6
    hue = torch.where(chroma > 0, hue, torch.zeros_like(hue))
    saturation = torch.where(value > 0, chroma / value.clamp_min(1e-12), torch.zeros_like(value))
    return torch.stack([hue % 1.0, saturation, value], dim=-1)


def hsv_cone(rgb: Tensor) -> Tensor:
    """sRGB [..., 3] -> the HSV cone's coordinates (chroma cos 2 pi h, chroma sin 2 pi h, value) [..., 3]: HSV
    as a loss can compare it (continuous across the hue wrap and for greys, where hue is undefined)."""
    hsv = rgb_to_hsv(rgb)
    chroma = hsv[..., 1] * hsv[..., 2]
    angle = 2 * math.pi * hsv[..., 0]
    return torch.stack([chroma * torch.cos(angle), chroma * torch.sin(angle), hsv[..., 2]], dim=-1)


COLOUR_SPACES = {"rgb": lambda x: x, "hsv": hsv_cone, "luminance": rgb_to_luminance, "xyz": rgb_to_xyz}
"""--loss-colour-space choices: sRGB [..., 3] -> what the loss compares."""


def tone_map(x: Tensor, kind: ToneMap, gamma: float = 2.2) -> Tensor:
    """A tone curve applied before the loss: none, gamma (x^(1/gamma): more weight to dark values), or
    Reinhard (x / (1 + x): compresses bright values)."""
    if kind == "gamma":
        return x.clamp_min(1e-6) ** (1.0 / gamma)
    if kind == "reinhard":
        return x / (1.0 + x)
    return x
