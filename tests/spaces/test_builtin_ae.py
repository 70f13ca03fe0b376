"""The built-in autoencoder: shipped small with its model card, loads offline, reconstructs synthesized objects it
never saw, and is what `--space latent` uses without --ae."""

from __future__ import annotations

import pytest
import torch

from latent_atlas.data.loading import load_scene
from latent_atlas.data.scene import composite_on_background
from latent_atlas.data.synth.writer import SynthConfig, synthesize
from latent_atlas.evaluation.metrics import psnr
from latent_atlas.spaces.ae_loading import fingerprint, load_autoencoder
from latent_atlas.spaces.building import build_space
from latent_atlas.spaces.presets import BUILTIN_AE, WEIGHTS_DIR, builtin_weights, preset_config

SHIPPED = ("latlas-f4c16-pooled-igae", "latlas-f4c16-pooled", "latlas-f4c16-slim", "latlas-f4c16-slim-igae", "latlas-f8c16-igae")
"""The built-in autoencoders whose weights ship in the package (IG-AE'd, and the default's plain twin for comparison)."""


def test_builtin_weights_are_shipped_small_and_documented():
    total = sum(path.stat().st_size for path in WEIGHTS_DIR.rglob("*.safetensors"))
    assert total <= 20 * 2**20, f"shipped weights take {total / 2**20:.1f} MiB (at most 20)"
    assert BUILTIN_AE in SHIPPED
    for name in SHIPPED:
        folder = builtin_weights(name)
        assert folder is not None, f"{WEIGHTS_DIR / name} is missing: run `make ae`"
        card = (folder / "MODEL_CARD.md").read_text()
        assert "benchmarks/builtin_ae.py" in card and "objects128" in card and name in card
        assert ("IG-AE fine-tuning" in card) == name.endswith("-igae"), f"{name}'s model card does not say whether it was IG-AE'd"
        model = load_autoencoder(name)
        preset = preset_config(name.removesuffix("-igae"))
        assert model.config.block_out_channels == preset.block_out_channels and model.latent_channels == 16
        assert model.config.encoder_type == preset.encoder_type


@pytest.mark.parametrize("name", SHIPPED)
def test_builtin_reconstructs_unseen_synthesized_objects(tmp_path, name):
    """Scenes of seeds it was not trained on (training used seeds 1000 and 2000): white-background views at 128 px."""
    scene_dir = synthesize(SynthConfig(output=tmp_path, family="mixed", num_scenes=1, resolution=128, num_train=1, num_val=1, num_test=4, seed=77))[0]
    rgb = composite_on_background(load_scene(scene_dir).splits["test"].images.float() / 255.0, torch.ones(3))
    model = load_autoencoder(name)
    with torch.no_grad():
        x = rgb.permute(0, 3, 1, 2) * 2 - 1
        recon = ((model.decode(model.encode(x)[0]) + 1) / 2).clamp(0, 1).permute(0, 2, 3, 1)
    scores = [psnr(r, t) for r, t in zip(recon, rgb)]
    assert min(scores) > BOUND_DB, scores


BOUND_DB = 27.0
"""Reconstruction PSNR every unseen view must pass (measured on these 4 views: at least 28.60 for latlas-f4c16-slim-igae,
28.50 for latlas-f4c16-slim, 28.28 for latlas-f4c16-pooled-igae,
27.78 for latlas-f4c16-pooled, 28.31 for latlas-f8c16-igae; a random autoencoder scores ~10)."""


def test_space_latent_defaults_to_the_builtin_autoencoder():
    space = build_space("latent", torch.device("cpu"))
    assert fingerprint(space.autoencoder) == fingerprint(load_autoencoder(BUILTIN_AE))
