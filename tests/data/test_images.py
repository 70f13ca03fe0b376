"""Image modes are converted by value: 16-bit greyscale scaled (not clipped to 0/255), palette and
greyscale+alpha kept; a 16-bit scene trains on the same pixels as its 8-bit twin."""

from __future__ import annotations

import numpy as np
from PIL import Image

from latent_atlas.data.images import read_rgba
from tests.reliability.bad_inputs import write_png16


def test_16_bit_greyscale_is_scaled_not_binarised(tmp_path):
    ramp = np.linspace(0, 65535, 64).astype(np.uint16).reshape(8, 8)
    write_png16(tmp_path / "g16.png", ramp)
    rgba = read_rgba(tmp_path / "g16.png").numpy()
    expected = np.round(ramp / 257.0).astype(np.uint8)
    assert np.abs(rgba[..., 0].astype(int) - expected).max() <= 1
    assert len(np.unique(rgba[..., 0])) > 50  # PIL's own convert() leaves two values: 0 and 255
    assert (rgba[..., 3] == 255).all() and (rgba[..., 0] == rgba[..., 2]).all()


def test_16_bit_rgba_keeps_its_alpha(tmp_path):
    values = np.zeros((4, 4, 4), np.uint16)
    values[..., 0], values[..., 3] = 65535, 32896  # red, half transparent
    write_png16(tmp_path / "c16.png", values)
    rgba = read_rgba(tmp_path / "c16.png").numpy()
    assert (rgba[..., 0] == 255).all() and (np.abs(rgba[..., 3].astype(int) - 128) <= 1).all()


def test_palette_and_grey_alpha_modes(tmp_path):
    palette = Image.new("P", (4, 4))
    palette.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    palette.putpixel((1, 1), 1)
    palette.save(tmp_path / "p.png")
    assert tuple(read_rgba(tmp_path / "p.png")[1, 1].tolist()) == (10, 200, 30, 255)
    Image.new("LA", (4, 4), (90, 40)).save(tmp_path / "la.png")
    assert tuple(read_rgba(tmp_path / "la.png")[0, 0].tolist()) == (90, 90, 90, 40)
