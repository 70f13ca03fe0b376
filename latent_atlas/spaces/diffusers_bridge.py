"""Autoencoders of the `diffusers` library behind our autoencoder interface (optional: needs diffusers installed).

Our own AutoencoderKL (spaces/autoencoder_kl.py) loads diffusers' KL folders without diffusers and stays the
default path. This bridge serves what it cannot build: AutoencoderTiny (TAESD), AutoencoderDC (deep
compression), and any AutoencoderKL when asked for explicitly with `--ae diffusers:<folder or hub id>`.
`DiffusersAutoencoder` gives them the methods the latent space uses (encode -> (mean, log-variance), decode,
latent_channels, downscale_factor, encoder/decoder parameters, config.to_diffusers_config) and keeps
diffusers' own state-dict names, so checkpoints and exports read like the library's.

Latents are each model's raw latents (before diffusion's scaling_factor / shift_factor): the same values for
the same weights whichever way they were loaded.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from torch import Tensor, nn

from latent_atlas.errors import ConfigError, DataError

SUPPORTED = ("AutoencoderKL", "AutoencoderTiny", "AutoencoderDC")
"""diffusers autoencoder classes the bridge wraps."""

DETERMINISTIC_LOGVAR = -30.0
"""Log-variance reported for deterministic encoders (Tiny, DC): the posterior is a point."""


class BackendConfig:
    """A diffusers model's config, as our configs present it (to_diffusers_config, scaling_factor)."""

    def __init__(self, class_name: str, config: dict):
        self.class_name = class_name
        self.values = dict(config)

    @property
    def scaling_factor(self) -> float:
        return float(self.values.get("scaling_factor", 1.0))

    def to_diffusers_config(self) -> dict:
        """config.json as diffusers writes it (class name first; private keys dropped)."""
        return {"_class_name": self.class_name, **{k: v for k, v in self.values.items() if not k.startswith("_")}}


def downscale_of(class_name: str, config: dict) -> int:
    """Image pixels per latent pixel of a diffusers autoencoder, from its config."""
    if class_name == "AutoencoderKL":
        return 2 ** (len(config["block_out_channels"]) - 1)
    if class_name == "AutoencoderTiny":  # one stride-2 stage per encoder block after the first
        return int(config.get("upsampling_scaling_factor", 2)) ** (len(config["encoder_block_out_channels"]) - 1)
    return 2 ** (len(config["encoder_block_out_channels"]) - 1)  # AutoencoderDC


class DiffusersAutoencoder(nn.Module):
    """A diffusers autoencoder with our interface: encode(images [B, 3, H, W] in [-1, 1]) -> (mean, logvar)
    [B, C, H/f, W/f]; decode(z) -> images [B, 3, H, W]."""

    def __init__(self, backend: nn.Module):
        super().__init__()
        class_name = type(backend).__name__
        if class_name not in SUPPORTED:
            raise ValueError(f"{class_name} is not a supported diffusers autoencoder ({', '.join(SUPPORTED)})")
        object.__setattr__(self, "backend", backend)  # not registered: its children are, under their own names
        for name, child in backend.named_children():
            self.add_module(name, child)
        self.config = BackendConfig(class_name, backend.config)

    @property
    def latent_channels(self) -> int:
        return int(self.config.values["latent_channels"])

    @property
    def downscale_factor(self) -> int:
        return downscale_of(self.config.class_name, self.config.values)

    def encoder_parameters(self) -> dict[str, nn.Parameter]:
        """Parameters that encoding uses, by state-dict name."""
        return {k: p for k, p in self.named_parameters() if k.startswith(("encoder.", "quant_conv."))}

    def decoder_parameters(self) -> dict[str, nn.Parameter]:
        """Parameters that decoding uses, by state-dict name."""
        return {k: p for k, p in self.named_parameters() if not k.startswith(("encoder.", "quant_conv."))}

    def encode(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean and log-variance [B, C, H/f, W/f] of images [B, 3, H, W] in [-1, 1]."""
        kind = self.config.class_name
        if kind == "AutoencoderKL":
            posterior = self.backend.encode(images).latent_dist
            return posterior.mean, posterior.logvar
        # AutoencoderTiny takes [-1, 1] like the others (diffusers rescales inside); DC's latents are `.latent`
        out = self.backend.encode(images)
        mean = out.latents if kind == "AutoencoderTiny" else out.latent
        return mean, torch.full_like(mean, DETERMINISTIC_LOGVAR)

    def decode(self, z: Tensor) -> Tensor:
        """Images [B, 3, h*f, w*f] (about [-1, 1]) from raw latents z [B, C, h, w]."""
        return self.backend.decode(z).sample

    def save(self, folder: Path) -> Path:
        """Writes the model with diffusers' save_pretrained into `folder`, replacing it only once complete."""
        tmp = folder.with_name(f".{folder.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        self.backend.save_pretrained(str(tmp), safe_serialization=True)
        shutil.rmtree(folder, ignore_errors=True)
        tmp.replace(folder)
        return folder


def _diffusers():
    """The diffusers module, or a ConfigError saying how to install it."""
    try:
        import diffusers
    except ImportError:
        raise ConfigError("this autoencoder needs the diffusers library: pip install 'latent-atlas[diffusers]' (or pip install diffusers)") from None
    return diffusers


def load_with_diffusers(folder: Path) -> DiffusersAutoencoder:
    """Loads a diffusers autoencoder folder (config.json + weights) through diffusers, in eval mode on the CPU."""
    config_path = folder / "config.json"
    try:
        class_name = json.loads(config_path.read_text()).get("_class_name", "AutoencoderKL")
    except (json.JSONDecodeError, OSError, AttributeError) as exc:
        raise DataError(config_path, f"not a readable autoencoder config ({type(exc).__name__})") from None
    if class_name not in SUPPORTED:
        raise DataError(config_path, f"_class_name {class_name} is not a supported autoencoder ({', '.join(SUPPORTED)})")
    cls = getattr(_diffusers(), class_name)
    try:
        backend = cls.from_pretrained(str(folder), torch_dtype=torch.float32, low_cpu_mem_usage=False)
    except Exception as exc:  # diffusers raises many kinds for bad folders
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(folder, f"diffusers could not load this {class_name} ({first[:200]})") from None
    return DiffusersAutoencoder(backend).eval()
