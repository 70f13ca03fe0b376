"""Finding, loading and saving autoencoder weights: preset names, hub ids, folders, single files.

`--ae` accepts:
- a folder written by diffusers' `save_pretrained` (config.json + diffusion_pytorch_model.safetensors),
  or a pipeline folder with such a `vae/` subfolder;
- a run folder of `latlas ae train` / `latlas igae` (its `autoencoder/` subfolder);
- a single .safetensors / .ckpt / .pt / .bin file in diffusers or original (ldm) key layout,
  optionally inside a full Stable Diffusion checkpoint (`first_stage_model.` prefix);
- a built-in autoencoder's name (latlas-f4c16-pooled-igae, latlas-f4c16-pooled, latlas-f4c16-slim, latlas-f4c16-slim-igae,
  latlas-f8c16-igae: weights shipped in the package, spaces/weights/);
- a published preset name (stable-diffusion, ostris) or a hub id, downloaded with huggingface_hub
  when it is installed and the machine is online;
- a diffusers AutoencoderTiny (TAESD) or AutoencoderDC folder or hub id, loaded through diffusers when it is
  installed (spaces/diffusers_bridge.py); `diffusers:<folder or hub id>` loads any of the three supported
  classes, AutoencoderKL included, through diffusers instead of our own implementation.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from latent_atlas.errors import ConfigError, DataError
from latent_atlas.spaces.autoencoder_kl import ENCODER_PREFIXES, AutoencoderKL, AutoencoderKLConfig
from latent_atlas.spaces.diffusers_bridge import DiffusersAutoencoder, load_with_diffusers
from latent_atlas.spaces.presets import AE_PRESETS, HUB_IDS, builtin_weights, preset_config

WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
CONFIG_NAME = "config.json"
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")


# ---- saving -----------------------------------------------------------------------------------------
def save_pretrained(model: AutoencoderKL | DiffusersAutoencoder, folder: Path) -> Path:
    """Writes folder/config.json and the weights in diffusers' layout, each atomically (config last)."""
    if isinstance(model, DiffusersAutoencoder):
        return model.save(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{WEIGHTS_NAME}.tmp"
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, str(tmp))
    tmp.replace(folder / WEIGHTS_NAME)
    tmp_config = folder / f".{CONFIG_NAME}.tmp"
    tmp_config.write_text(json.dumps(model.config.to_diffusers_config(), indent=2))
    tmp_config.replace(folder / CONFIG_NAME)
    return folder


def fingerprint(model: AutoencoderKL | DiffusersAutoencoder, part: str = "all") -> str:
    """Hex digest of the architecture and the weights (part='encoder': only those that encoding uses)."""
    digest = hashlib.sha256(json.dumps(model.config.to_diffusers_config(), sort_keys=True).encode())
    for name, value in sorted(model.state_dict().items()):
        if part == "encoder" and not name.startswith(ENCODER_PREFIXES):
            continue
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().float().numpy().tobytes())
    return digest.hexdigest()[:20]


# ---- key layouts ------------------------------------------------------------------------------------
_OLD_ATTENTION = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}
_LDM_ATTENTION = {"norm": "group_norm", "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0"}


def _strip_prefix(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Keeps the autoencoder's weights of a full-model checkpoint (first_stage_model. / vae. prefixes)."""
    for prefix in ("first_stage_model.", "vae."):
        if any(k.startswith(prefix) for k in state):
            return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    return state


def convert_ldm_keys(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Original Stable Diffusion (ldm) VAE keys -> diffusers keys; diffusers keys pass through."""
    if not any(k.startswith(("encoder.down.", "decoder.up.", "encoder.mid.", "decoder.mid.")) for k in state):
        return {_rename_old_attention(k): v for k, v in state.items()}
    up_levels = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"decoder\.up\.(\d+)\.", k)))
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        new = key
        new = re.sub(r"^(encoder)\.down\.(\d+)\.block\.(\d+)\.", r"\1.down_blocks.\2.resnets.\3.", new)
        new = re.sub(r"^(encoder)\.down\.(\d+)\.downsample\.", r"\1.down_blocks.\2.downsamplers.0.", new)
        m = re.match(r"^decoder\.up\.(\d+)\.(.*)$", new)
        if m:  # ldm numbers decoder levels from the highest resolution; diffusers from the lowest
            rest = m.group(2).replace("block.", "resnets.", 1).replace("upsample.", "upsamplers.0.", 1)
            new = f"decoder.up_blocks.{up_levels - 1 - int(m.group(1))}.{rest}"
        new = re.sub(r"\.mid\.block_(\d)\.", lambda g: f".mid_block.resnets.{int(g.group(1)) - 1}.", new)
        m = re.match(r"^(encoder|decoder)\.mid\.attn_1\.(\w+)\.(weight|bias)$", new)
        if m:
            new = f"{m.group(1)}.mid_block.attentions.0.{_LDM_ATTENTION[m.group(2)]}.{m.group(3)}"
            if m.group(2) != "norm" and value.ndim == 4:
                value = value[:, :, 0, 0]  # 1x1 conv -> linear
        new = (
            new.replace(".nin_shortcut.", ".conv_shortcut.")
            .replace("encoder.norm_out.", "encoder.conv_norm_out.")
            .replace("decoder.norm_out.", "decoder.conv_norm_out.")
        )
        out[new] = value
    return out


def _rename_old_attention(key: str) -> str:
    m = re.match(r"^(.*\.attentions\.0)\.(query|key|value|proj_attn)\.(weight|bias)$", key)
    return f"{m.group(1)}.{_OLD_ATTENTION[m.group(2)]}.{m.group(3)}" if m else key


def infer_config(state: dict[str, Tensor], base: AutoencoderKLConfig | None = None) -> AutoencoderKLConfig:
    """The architecture a diffusers-keyed state dict was made for. Norm groups and latent scaling are not in the
    weights: they come from `base`, else from the preset of the same shapes, else diffusers' 32 groups when they
    divide every level's channels; ValueError when the shapes fit no preset (a weights file needs its config.json)."""
    if "encoder.mix.weight" in state:
        raise ValueError("a pooled-encoder autoencoder: its windows are not in the weights, load its folder with config.json")
    levels = sorted({int(m.group(1)) for k in state if (m := re.match(r"encoder\.down_blocks\.(\d+)\.", k))})
    if not levels or "encoder.conv_in.weight" not in state:
        raise ValueError("no encoder.down_blocks / encoder.conv_in weights: not a KL autoencoder checkpoint")
    channels = tuple(int(state[f"encoder.down_blocks.{i}.resnets.0.conv2.weight"].shape[0]) for i in levels)
    layers = len({m.group(1) for k in state if (m := re.match(r"encoder\.down_blocks\.0\.resnets\.(\d+)\.", k))})
    found = AutoencoderKLConfig(
        in_channels=int(state["encoder.conv_in.weight"].shape[1]),
        out_channels=int(state["decoder.conv_out.weight"].shape[0]),
        block_out_channels=channels,
        layers_per_block=layers,
        latent_channels=int(state["decoder.conv_in.weight"].shape[1]),
        use_quant_conv="quant_conv.weight" in state,
        use_post_quant_conv="post_quant_conv.weight" in state,
        mid_block_add_attention=any(".mid_block.attentions." in k for k in state),
        patch_skip="encoder.patch_skip.weight" in state,
    )
    if found.patch_skip and state["encoder.patch_skip.weight"].shape[-1] > 1:  # lapped patch paths: k x k windows
        found.patch_kernel = int(state["encoder.patch_skip.weight"].shape[-1])
    if base is None:
        shapes = (channels, layers, found.latent_channels, found.patch_skip, found.lapped and found.patch_kernel)
        same = [
            p for p in AE_PRESETS.values() if (p.block_out_channels, p.layers_per_block, p.latent_channels, p.patch_skip, p.lapped and p.patch_kernel) == shapes
        ]
        base = same[0] if same else None
    if base is None and any(c % 32 for c in channels):
        raise ValueError(
            f"its shapes (channels {channels}, {layers} layers per block, {found.latent_channels} latent channels) fit no preset, "
            "so its GroupNorm groups are unknown: pass --ae-preset, or a folder with the weights and their config.json"
        )
    base = base or AutoencoderKLConfig()
    found.norm_num_groups, found.scaling_factor = base.norm_num_groups, base.scaling_factor
    return found


# ---- loading ----------------------------------------------------------------------------------------
def read_state_dict(path: Path) -> dict[str, Tensor]:
    """Tensors of a .safetensors file, or of a torch pickle (weights only; a 'state_dict' entry is unwrapped)."""
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path))
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or truncated files
        raise DataError(path, f"cannot read weights ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'unreadable'})") from None
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict):
        raise DataError(path, "does not hold a state dict")
    return {k: v for k, v in loaded.items() if isinstance(v, Tensor)}


def build_from_state(state: dict[str, Tensor], config: AutoencoderKLConfig, source: Path) -> AutoencoderKL:
    """An autoencoder of `config` holding `state`; DataError naming `source` on any mismatch."""
    try:
        model = AutoencoderKL(config)
    except ValueError as exc:  # e.g. GroupNorm groups that do not divide a level's channels
        raise DataError(source, f"its architecture cannot be built ({exc})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise DataError(
            source,
            f"weights do not match the autoencoder architecture ({len(missing)} missing, e.g. {missing[:2]}; {len(unexpected)} unexpected, e.g. {unexpected[:2]})",
        )
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise DataError(source, f"weight {key} has shape {tuple(value.shape)}, the architecture needs {tuple(expected[key].shape)}")
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.eval()


def load_single_file(path: Path, preset: str | None = None) -> AutoencoderKL:
    """Loads one weights file (diffusers or ldm keys); the architecture is read from the weights' shapes."""
    state = convert_ldm_keys(_strip_prefix(read_state_dict(path)))
    try:
        config = infer_config(state, preset_config(preset) if preset else None)
    except ValueError as exc:
        raise DataError(path, str(exc)) from None
    return build_from_state(state, config, path)


def load_diffusers_folder(folder: Path) -> AutoencoderKL | DiffusersAutoencoder:
    """Loads a `save_pretrained` folder: config.json + diffusion_pytorch_model.safetensors (or .bin); an
    AutoencoderKL with our implementation, the other diffusers classes through diffusers."""
    config_path = folder / CONFIG_NAME
    try:
        raw = json.loads(config_path.read_text())
        kl = not isinstance(raw, dict) or raw.get("_class_name", "AutoencoderKL") == "AutoencoderKL"
        config = AutoencoderKLConfig.from_diffusers_config(raw) if kl else None
    except (json.JSONDecodeError, ValueError, TypeError, AttributeError) as exc:
        raise DataError(config_path, f"not a usable AutoencoderKL config ({exc})") from None
    if config is None:
        return load_with_diffusers(folder)
    for name in (WEIGHTS_NAME, "diffusion_pytorch_model.bin"):
        if (folder / name).is_file():
            return build_from_state(convert_ldm_keys(read_state_dict(folder / name)), config, folder / name)
    raise DataError(folder, f"has {CONFIG_NAME} but no {WEIGHTS_NAME}")


def _download(repo_id: str) -> Path:
    """Local snapshot of a hub repository's autoencoder files (needs huggingface_hub and a network)."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ConfigError(
            f"--ae {repo_id}: not a local path, and huggingface_hub is not installed to download it (pip install huggingface_hub, or pass a folder / weights file)"
        ) from None
    try:
        return Path(snapshot_download(repo_id, allow_patterns=["*.json", "*.safetensors", "vae/*"]))
    except Exception as exc:
        raise ConfigError(f"--ae {repo_id}: download failed ({type(exc).__name__}); pass a local folder or weights file instead") from None


def _autoencoder_folder(path: Path) -> Path | None:
    """The folder under `path` holding an autoencoder's config.json (path/autoencoder, path/vae or path), or None."""
    return next((c for c in (path / "autoencoder", path / "vae", path) if (c / CONFIG_NAME).is_file()), None)


def load_autoencoder(spec: str | Path, preset: str | None = None) -> AutoencoderKL | DiffusersAutoencoder:
    """The autoencoder named by `spec` (see the module docstring), in eval mode on the CPU."""
    if str(spec).startswith("diffusers:"):
        target = str(spec)[len("diffusers:") :]
        local = Path(target)
        folder = _autoencoder_folder(local) if local.is_dir() else _autoencoder_folder(_download(target)) if target.count("/") == 1 else None
        if folder is None:
            raise DataError(local, "no diffusers autoencoder folder here (expected config.json, or an autoencoder/ or vae/ subfolder)")
        return load_with_diffusers(folder)
    path = Path(spec)
    if path.is_file():
        if path.suffix not in SINGLE_FILE_SUFFIXES:
            raise DataError(path, f"not a weights file (expected one of {', '.join(SINGLE_FILE_SUFFIXES)})")
        return load_single_file(path, preset)
    if path.is_dir():
        if (folder := _autoencoder_folder(path)) is not None:
            return load_diffusers_folder(folder)
        raise DataError(path, f"no autoencoder here (expected {CONFIG_NAME} + {WEIGHTS_NAME}, or an autoencoder/ or vae/ subfolder)")
    name = str(spec)
    if (shipped := builtin_weights(name)) is not None:
        return load_diffusers_folder(shipped)
    if name in AE_PRESETS and name not in HUB_IDS:
        raise ConfigError(
            f"--ae {name}: this preset has no published weights; train it first with `latlas ae train --preset {name} --data ...` (the built-in ones: `make ae`) and pass the run folder"
        )
    if name in HUB_IDS or (name.count("/") == 1 and not name.startswith((".", "/"))):
        return load_autoencoder(_download(HUB_IDS.get(name, name)), preset)
    raise DataError(path, "not found (expected an autoencoder folder, a weights file, a preset or a hub id)")
