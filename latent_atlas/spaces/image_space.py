"""Image spaces: where a scene's images live while a field learns them. THE place that knows RGB vs latent.

A space maps a scene's splits into it (images encoded once, cached; cameras
rescaled by the downscale factor), decodes renders back to RGB, supplies the
per-ray backgrounds of training, its trainable parts and checkpoint state, the
losses that cross its codec, and scores views (metric groups + a dashboard).
Fields, renderers, methods and tasks only ask; none of them tests which space it is.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import Tensor, nn

from latent_atlas.data.scene import SceneData, SceneSplit, TargetPrecision, composite_on_background
from latent_atlas.evaluation.metrics import psnr, ssim
from latent_atlas.losses.pixel import channel_weights
from latent_atlas.rendering.backgrounds import background_colors
from latent_atlas.spaces.ae_loading import fingerprint, save_pretrained
from latent_atlas.spaces.autoencoder_kl import AutoencoderKL
from latent_atlas.spaces.dashboard import latent_dashboard, rgb_dashboard
from latent_atlas.spaces.diffusers_bridge import DiffusersAutoencoder
from latent_atlas.spaces.latent_cache import LatentCache, cached, images_key
from latent_atlas.spaces.normalization import denormalize_latent, normalize_latent

METRIC_GROUPS = ("metrics_e", "metrics_d", "metrics_ae", "metrics_d_ae")
"""metrics_e: render vs ground truth in the space; metrics_d: decoded render vs RGB ground truth; metrics_ae:
the autoencoder's own reconstruction vs RGB ground truth; metrics_d_ae: decoded render vs that reconstruction."""


@dataclass
class ViewScore:
    """One view scored in a space: {'psnr', 'ssim'} per metric group, the render as RGB, its RGB ground truth and
    a dashboard figure [H', W', 3]."""

    groups: dict[str, dict[str, float]]
    rgb: Tensor
    target: Tensor
    figure: Tensor
    headline: str
    """The group that scores the RGB image (metrics_e in RGB, metrics_d in a latent space)."""

    def flat(self) -> dict[str, float]:
        """{'psnr_e', 'ssim_e', 'psnr_d', ...}: each group's values with the group's suffix."""
        return {f"{key}_{group[len('metrics_') :]}": value for group, pair in self.groups.items() for key, value in pair.items()}


def score_pair(prediction: Tensor, target: Tensor) -> dict[str, float]:
    """{'psnr', 'ssim'} of two images [H, W, C] in [0, 1]."""
    return {"psnr": psnr(prediction, target), "ssim": ssim(prediction, target)}


class ImageSpace:
    """The interface of an image space (RGBSpace and LatentSpace are its two kinds)."""

    name: str
    channels: int
    downscale: int
    headline = "metrics_e"
    colour_values = True
    """Whether the values are colours (priors tuned on RGB images apply to fields rendering them)."""

    def encode(self, rgb: Tensor) -> Tensor:
        """Images [B, H, W, 3] in [0, 1] -> values [B, H/f, W/f, C] in [0, 1]."""
        raise NotImplementedError

    def decode(self, values: Tensor) -> Tensor:
        """Values [B, h, w, C] -> RGB images [B, h*f, w*f, 3] in [0, 1] (differentiable)."""
        raise NotImplementedError

    def background_value(self, color: Tensor) -> Tensor:
        """The space's value [C] of an image filled with RGB `color` [3]."""
        raise NotImplementedError

    def map_scene(self, scene: SceneData, background: Tensor | None, storage: TargetPrecision = "fp32") -> SceneData:
        """The scene's splits in this space; `storage`: the dtype of values the space computes (RGB keeps uint8)."""
        raise NotImplementedError

    def encoded_splits(self) -> dict[str, int] | None:
        """How many splits map_scene encoded and how many it read from the cache so far (None: a space without a codec)."""
        return None

    def ray_backgrounds(self, mode: str, count: int, constant: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Backgrounds [count, C] of a training batch: `mode`'s colours where the space keeps alpha, else the
        constant [C] its images were composited on."""
        raise NotImplementedError

    def channel_sensitivity(self, values: Tensor, noise: float = 0.01, generator: torch.Generator | None = None) -> Tensor:
        """How much the decoded image moves per channel: mean |decode(v + n e_c) - decode(v)|^2 / noise^2 over
        images [B, h, w, C] with Gaussian noise n of std `noise` on channel c alone -> [C] (RGB: ones)."""
        return torch.ones(self.channels)

    def loss_channel_scale(self, values: Tensor, floor: float, seed: int) -> Tensor:
        """Square roots [C] of the channel weights of a loss on values (--channel-weights decoder): each channel by
        the decoder's sensitivity to it on `values` [B, h, w, C], floored and normalised (losses.pixel.channel_weights);
        a loss on values * this weighs channel c by its square."""
        sensitivity = self.channel_sensitivity(values, generator=torch.Generator().manual_seed(seed))
        weights = channel_weights(sensitivity, floor)
        print(f"latlas: latent loss channel weights {[round(w, 3) for w in weights.tolist()]}", file=sys.stderr)
        return weights.sqrt()

    # ---- trainable parts and their state (an autoencoder, when the space has one) ------------------
    def parameters(self, part: str = "all") -> dict[str, nn.Parameter]:
        """Trainable parameters of the space's codec by state-dict name: part all, encoder, decoder or decoder-head
        (RGB: none)."""
        return {}

    def state_tensors(self) -> dict[str, Tensor]:
        """Everything of the codec a checkpoint needs (RGB: nothing)."""
        return {}

    def load_tensors(self, tensors: dict[str, Tensor]) -> None:
        """Loads codec tensors by state-dict name (those present; RGB: nothing to load)."""

    def export(self, folder: Path) -> None:
        """Writes the codec where `--ae` can load it (RGB: nothing)."""

    # ---- losses that cross the codec (multi-scene phases) ------------------------------------------
    def encode_for_training(self, rgb: Tensor) -> tuple[Tensor, Tensor | None]:
        """Images [B, H, W, 3] -> (values [B, h, w, C], raw latents or None), differentiable through the encoder."""
        return rgb, None

    def decoded_loss(self, values: Tensor, rgb: Tensor) -> Tensor:
        """|D(values) - x|^2 with images in [-1, 1]: values [B, h, w, C], rgb [B, H, W, 3]."""
        return torch.mean((self.decode(values) * 2.0 - rgb * 2.0) ** 2)

    def reconstruction_loss(self, raw: Tensor | None, rgb: Tensor) -> Tensor:
        """|D(E(x)) - x|^2 with images in [-1, 1], from encode_for_training's raw latents (RGB: zero)."""
        return rgb.new_zeros(())

    # ---- scoring -----------------------------------------------------------------------------------
    def score_view(self, render: Tensor, target_values: Tensor, rgb_target: Tensor) -> ViewScore:
        """Scores a render [h, w, C] against the view's values [h, w, C] and its RGB image [H, W, 3]."""
        raise NotImplementedError


class RGBSpace(ImageSpace):
    """RGB: 3 channels, identity codec, images as they are (alpha kept for per-step backgrounds)."""

    name = "rgb"
    channels = 3
    downscale = 1

    def encode(self, rgb: Tensor) -> Tensor:
        return rgb

    def decode(self, values: Tensor) -> Tensor:
        return values

    def background_value(self, color: Tensor) -> Tensor:
        return color

    def map_scene(self, scene: SceneData, background: Tensor | None, storage: TargetPrecision = "fp32") -> SceneData:
        return scene

    def ray_backgrounds(self, mode: str, count: int, constant: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return background_colors(mode, count, 3, generator)

    def score_view(self, render: Tensor, target_values: Tensor, rgb_target: Tensor) -> ViewScore:
        render, target = render.cpu(), rgb_target.cpu()
        groups = {"metrics_e": score_pair(render, target)}
        return ViewScore(groups, render, target, rgb_dashboard(render, target, groups), self.headline)


class LatentSpace(ImageSpace):
    """An autoencoder's normalised latents: C = latent channels, images / f, on a constant background."""

    name = "latent"
    headline = "metrics_d"
    colour_values = False

    def __init__(self, autoencoder: AutoencoderKL | DiffusersAutoencoder, cache: LatentCache | None = None, batch_size: int = 8):
        self.autoencoder = autoencoder
        self.channels = autoencoder.latent_channels
        self.downscale = autoencoder.downscale_factor
        self.cache = cache or LatentCache()
        self.batch_size = batch_size
        self._fingerprint: str | None = None

    @property
    def device(self) -> torch.device:
        return next(self.autoencoder.parameters()).device

    def encoder_fingerprint(self) -> str:
        """Fingerprint of the encoder's weights (what cached latents depend on; the decoder may be fine-tuned)."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.autoencoder, part="encoder")
        return self._fingerprint

    @torch.no_grad()
    def encode(self, rgb: Tensor) -> Tensor:
        """Images [B, H, W, 3] in [0, 1] -> normalised latents [B, H/f, W/f, C] (posterior means)."""
        outputs = []
        for start in range(0, rgb.shape[0], self.batch_size):
            x = rgb[start : start + self.batch_size].to(self.device).permute(0, 3, 1, 2) * 2.0 - 1.0
            mean, _ = self.autoencoder.encode(x)
            outputs.append(normalize_latent(mean).permute(0, 2, 3, 1).cpu())
        return torch.cat(outputs)

    def decode(self, values: Tensor, trunk_gradients: bool = True) -> Tensor:
        """Normalised latents [B, h, w, C] -> RGB [B, h*f, w*f, 3] in [0, 1] (differentiable; trunk_gradients False:
        only the decoder's head, see parameters("decoder-head"))."""
        z = self._decoder_input(values.to(self.device))
        decoded = self.autoencoder.decode(z) if trunk_gradients else self.autoencoder.decode(z, trunk_gradients=False)
        return ((decoded + 1.0) * 0.5).clamp(0.0, 1.0).permute(0, 2, 3, 1)

    def background_value(self, color: Tensor) -> Tensor:
        """Latent [C] of a constant image of `color` [3]: the centre latent pixel of a 4f x 4f image."""
        size = 4 * self.downscale
        image = color.float().reshape(1, 1, 1, 3).expand(1, size, size, 3)
        return self.encode(image)[0, 2, 2]

    def encode_split(self, split: SceneSplit, background: Tensor) -> Tensor:
        """Normalised latents [N, h, w, C] of a split's images composited on `background` [3] (cached)."""
        key = images_key(split.images, {"encoder": self.encoder_fingerprint(), "background": [round(float(v), 6) for v in background]})
        return cached(self.cache, key, lambda: self.encode(composite_on_background(split.rgba(slice(None)), background)))

    def map_scene(self, scene: SceneData, background: Tensor | None, storage: TargetPrecision = "fp32") -> SceneData:
        """Every split encoded on `background` (opaque: alpha 1) with cameras scaled by 1/f, held in `storage`
        precision (fp16: half the memory, values rounded to 11 significant bits; read back as fp32)."""
        if background is None:
            raise ValueError("a latent space needs a constant background colour")
        splits = {}
        for name, split in scene.splits.items():
            if split.height % self.downscale or split.width % self.downscale:
                raise ValueError(f"{name} images are {split.width}x{split.height}: not divisible by the autoencoder's factor {self.downscale}")
            latents = self.encode_split(split, background)
            values = torch.cat([latents, torch.ones_like(latents[..., :1])], dim=-1)
            if storage == "fp16":  # normalised latents lie in [0, 1]: no overflow, at most 2^-12 off
                values = values.half()
            splits[name] = replace(split, images=values, cameras=split.cameras.rescale(1.0 / self.downscale))
        return replace(scene, splits=splits)

    def encoded_splits(self) -> dict[str, int] | None:
        return {"encoded": self.cache.misses, "cached": self.cache.hits}

    def ray_backgrounds(self, mode: str, count: int, constant: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return constant.cpu().expand(count, -1)  # latent images are already on the encoded background colour

    @torch.no_grad()
    def channel_sensitivity(self, values: Tensor, noise: float = 0.01, generator: torch.Generator | None = None) -> Tensor:
        values = values.to(self.device)
        base = self.decode(values)
        sensitivity = torch.zeros(self.channels)
        for c in range(self.channels):
            moved = values.clone()
            moved[..., c] += noise * torch.randn(moved[..., c].shape, generator=generator).to(self.device)
            sensitivity[c] = torch.mean((self.decode(moved) - base) ** 2).cpu() / noise**2
        return sensitivity

    def parameters(self, part: str = "all") -> dict[str, nn.Parameter]:
        ae = self.autoencoder
        if part == "decoder-head":  # the built-in architecture's last up block and output layers
            if not isinstance(ae, AutoencoderKL):
                raise ValueError("only the built-in autoencoder architecture has a decoder head to train alone")
            return ae.decoder_head_parameters()
        return {"all": dict(ae.named_parameters()), "encoder": ae.encoder_parameters(), "decoder": ae.decoder_parameters()}[part]

    def state_tensors(self) -> dict[str, Tensor]:
        return dict(self.autoencoder.state_dict())

    def load_tensors(self, tensors: dict[str, Tensor]) -> None:
        state = self.autoencoder.state_dict()
        with torch.no_grad():
            for name, value in tensors.items():
                if name in state:
                    state[name].copy_(value)

    def export(self, folder: Path) -> None:
        save_pretrained(self.autoencoder, folder)

    def encode_for_training(self, rgb: Tensor) -> tuple[Tensor, Tensor | None]:
        mean = self.autoencoder.encode(rgb.permute(0, 3, 1, 2) * 2.0 - 1.0)[0]
        return normalize_latent(mean).permute(0, 2, 3, 1), mean

    @staticmethod
    def _decoder_input(values: Tensor) -> Tensor:
        """Normalised latents [B, h, w, C] -> the decoder's input [B, C, h, w]: a channels-last view in fp32, an NCHW
        copy under autocast (bf16 convolutions on a CPU run 1.2x faster from NCHW; BENCHMARKS.md, session 50)."""
        z = denormalize_latent(values).permute(0, 3, 1, 2)
        return z.contiguous() if torch.is_autocast_enabled(z.device.type) else z

    def decoded_loss(self, values: Tensor, rgb: Tensor) -> Tensor:
        z = self._decoder_input(values)
        return torch.mean((self.autoencoder.decode(z).float() - (rgb.permute(0, 3, 1, 2) * 2.0 - 1.0)) ** 2)  # fp32 also under autocast

    def reconstruction_loss(self, raw: Tensor | None, rgb: Tensor) -> Tensor:
        if raw is None:
            raw = self.autoencoder.encode(rgb.permute(0, 3, 1, 2) * 2.0 - 1.0)[0]
        return torch.mean((self.autoencoder.decode(raw).float() - (rgb.permute(0, 3, 1, 2) * 2.0 - 1.0)) ** 2)

    @torch.no_grad()
    def score_view(self, render: Tensor, target_values: Tensor, rgb_target: Tensor) -> ViewScore:
        render, target_values, target = render.cpu(), target_values.cpu(), rgb_target.cpu()
        decoded = self.decode(render[None])[0].cpu()
        reconstruction = self.decode(target_values[None])[0].cpu()
        groups = {
            "metrics_e": score_pair(render, target_values),
            "metrics_d": score_pair(decoded, target),
            "metrics_ae": score_pair(reconstruction, target),
            "metrics_d_ae": score_pair(decoded, reconstruction),
        }
        return ViewScore(groups, decoded, target, latent_dashboard(render, decoded, target, target_values, reconstruction, groups), self.headline)
