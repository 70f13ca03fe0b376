"""KL autoencoder with the architecture and parameter names of diffusers' `AutoencoderKL`.

Written from the published architecture so that checkpoints saved by diffusers
(`save_pretrained` folders, single .safetensors files) load without diffusers
installed: encoder = conv_in, down blocks of ResNet blocks (+ stride-2 conv),
mid block (ResNet, single-head attention, ResNet), GroupNorm-SiLU-conv_out to
2 x latent channels (mean, log-variance); decoder mirrors it with nearest-neighbour
x2 upsampling. Images are [B, 3, H, W] in [-1, 1]; latents z are [B, C, H/f, W/f]
with f = 2^(number of blocks - 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class AutoencoderKLConfig:
    """Architecture of a KL autoencoder (the keys of a diffusers AutoencoderKL config.json)."""

    in_channels: int = 3
    """Image channels in."""
    out_channels: int = 3
    """Image channels out."""
    block_out_channels: tuple[int, ...] = (128, 256, 512, 512)
    """Channels of each resolution level; f = 2^(len - 1)."""
    layers_per_block: int = 2
    """ResNet blocks per encoder level (the decoder has one more)."""
    latent_channels: int = 4
    """Channels of the latent image."""
    norm_num_groups: int = 32
    """GroupNorm groups."""
    use_quant_conv: bool = True
    """1x1 conv on the moments after the encoder."""
    use_post_quant_conv: bool = True
    """1x1 conv on the latent before the decoder."""
    mid_block_add_attention: bool = True
    """Single-head self-attention in the mid blocks."""
    scaling_factor: float = 0.18215
    """Diffusion scaling of the latents (stored for diffusers; latent NeRFs use raw z)."""
    patch_skip: bool = False
    """Linear patch paths around the networks (not in diffusers): the encoder adds a 1x1 conv of each f x f pixel
    patch (pixel unshuffle) to its moments, the decoder a 1x1 conv of each latent pixel, pixel-shuffled, to its
    image. A linear codec from the first step, so colours and the mean of each patch are learned at once; the
    convolutional paths (whose GroupNorms remove per-image means) learn the rest. Weights with it load here only."""
    patch_kernel: int = 0
    """Window of the patch paths in pixels: 0 (or f) codes disjoint f x f blocks; 2f codes overlapping windows at
    stride f (encoder: a k x k conv, decoder: its transpose, overlap-added), a lapped codec whose latents move
    smoothly with the image instead of coding content by its phase inside a block."""
    encoder_type: Literal["cnn", "pooled"] = "cnn"
    """cnn (diffusers' encoder) or pooled (not in diffusers): per-pixel features of a stride-1 network, pooled at
    stride f by smooth fixed windows (see pool_windows) and mixed linearly. Its latents are linear
    in features of small neighbourhoods, so they move with the image like a blurred image does, and a latent NeRF's
    render (a linear blend along each ray) can match them."""
    pool_sigma: float = 0.6
    """Pooled encoder: standard deviation of the Gaussian windows, in latent pixels."""
    pool_width: int = 64
    """Pooled encoder: per-pixel feature channels (the image's own 3 are added)."""
    pool_order: int = 1
    """Pooled encoder: hermite windows: highest order of the moments (0: the Gaussian only; 1: and its x, y moments;
    2: and the second moments); isotropic windows: pool_order + 1 scales (pool_sigma times 1.5^j)."""
    pool_windows: Literal["hermite", "isotropic"] = "hermite"
    """Pooled encoder: hermite (a Gaussian times monomials of x, y: oriented, so the latents depend on the camera's
    roll) or isotropic (per scale a Gaussian and a zero-mean Gaussian times r^2: unchanged by rotating the image)."""
    pool_feature_kernel: int = 3
    """Pooled encoder: kernel of the feature network's first conv (1: per-pixel colour features, which rotating
    the image does not change)."""

    @property
    def downscale_factor(self) -> int:
        """Image pixels per latent pixel along each axis."""
        return 2 ** (len(self.block_out_channels) - 1)

    def to_diffusers_config(self) -> dict:
        """The config.json that diffusers writes for this architecture."""
        n = len(self.block_out_channels)
        return (
            {
                "_class_name": "AutoencoderKL",
                "in_channels": self.in_channels,
                "out_channels": self.out_channels,
                "down_block_types": ["DownEncoderBlock2D"] * n,
                "up_block_types": ["UpDecoderBlock2D"] * n,
                "block_out_channels": list(self.block_out_channels),
                "layers_per_block": self.layers_per_block,
                "act_fn": "silu",
                "latent_channels": self.latent_channels,
                "norm_num_groups": self.norm_num_groups,
                "scaling_factor": self.scaling_factor,
                "use_quant_conv": self.use_quant_conv,
                "use_post_quant_conv": self.use_post_quant_conv,
                "mid_block_add_attention": self.mid_block_add_attention,
            }
            | ({"patch_skip": True} if self.patch_skip else {})
            | ({"patch_kernel": self.patch_kernel} if self.lapped else {})
            | (
                {
                    "encoder_type": "pooled",
                    "pool_sigma": self.pool_sigma,
                    "pool_width": self.pool_width,
                    "pool_order": self.pool_order,
                    "pool_windows": self.pool_windows,
                    "pool_feature_kernel": self.pool_feature_kernel,
                }
                if self.encoder_type == "pooled"
                else {}
            )
        )

    @property
    def lapped(self) -> bool:
        """Whether the patch paths code overlapping windows (patch_kernel > f) rather than disjoint blocks."""
        return self.patch_skip and self.patch_kernel > self.downscale_factor

    @classmethod
    def from_diffusers_config(cls, config: dict) -> AutoencoderKLConfig:
        """Reads a diffusers config.json dict (unknown keys ignored; act_fn must be silu)."""
        if config.get("act_fn", "silu") != "silu":
            raise ValueError(f"act_fn '{config['act_fn']}' is not supported (only silu)")
        kwargs = {k: config[k] for k in cls.__dataclass_fields__ if k in config}
        if "block_out_channels" in kwargs:
            kwargs["block_out_channels"] = tuple(kwargs["block_out_channels"])
        return cls(**kwargs)


ENCODER_PREFIXES = ("encoder.", "quant_conv.")
"""State-dict name prefixes of the encoding side; everything else decodes."""


def lapped_padding(cfg: AutoencoderKLConfig) -> int:
    """Padding of lapped patch paths, so that latent pixel (i, j) codes the window centred on block (i, j)."""
    if (cfg.patch_kernel - cfg.downscale_factor) % 2:
        raise ValueError(f"patch_kernel {cfg.patch_kernel} must exceed the factor {cfg.downscale_factor} by an even number of pixels")
    return (cfg.patch_kernel - cfg.downscale_factor) // 2


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(groups, channels, eps=1e-6)


class ResnetBlock(nn.Module):
    """GroupNorm-SiLU-conv twice plus a (1x1 conv) shortcut: [B, in, H, W] -> [B, out, H, W]."""

    def __init__(self, in_channels: int, out_channels: int, groups: int):
        super().__init__()
        self.norm1 = _norm(in_channels, groups)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = _norm(out_channels, groups)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.conv_shortcut is None else self.conv_shortcut(x)) + h


class SpatialAttention(nn.Module):
    """Single-head self-attention over pixels with a residual: [B, C, H, W] -> same."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.group_norm = _norm(channels, groups)
        self.to_q = nn.Linear(channels, channels)
        self.to_k = nn.Linear(channels, channels)
        self.to_v = nn.Linear(channels, channels)
        self.to_out = nn.ModuleList([nn.Linear(channels, channels)])

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        tokens = self.group_norm(x).reshape(b, c, h * w).transpose(1, 2)  # [B, HW, C]
        q, k, v = self.to_q(tokens), self.to_k(tokens), self.to_v(tokens)
        attended = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]
        return x + self.to_out[0](attended).transpose(1, 2).reshape(b, c, h, w)


class MidBlock(nn.Module):
    """ResNet - attention - ResNet at the lowest resolution."""

    def __init__(self, channels: int, groups: int, attention: bool):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock(channels, channels, groups), ResnetBlock(channels, channels, groups)])
        self.attentions = nn.ModuleList([SpatialAttention(channels, groups)]) if attention else None

    def forward(self, x: Tensor) -> Tensor:
        x = self.resnets[0](x)
        if self.attentions is not None:
            x = self.attentions[0](x)
        return self.resnets[1](x)


class Downsample(nn.Module):
    """Stride-2 3x3 conv after padding right and bottom by one (halves H and W)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    """Nearest-neighbour x2 then a 3x3 conv (doubles H and W)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class EncoderBlock(nn.Module):
    """`layers` ResNet blocks, then an optional downsampling."""

    def __init__(self, in_channels: int, out_channels: int, layers: int, groups: int, downsample: bool):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock(in_channels if i == 0 else out_channels, out_channels, groups) for i in range(layers)])
        self.downsamplers = nn.ModuleList([Downsample(out_channels)]) if downsample else None

    def forward(self, x: Tensor) -> Tensor:
        for block in self.resnets:
            x = block(x)
        return x if self.downsamplers is None else self.downsamplers[0](x)


class DecoderBlock(nn.Module):
    """`layers` ResNet blocks, then an optional upsampling."""

    def __init__(self, in_channels: int, out_channels: int, layers: int, groups: int, upsample: bool):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock(in_channels if i == 0 else out_channels, out_channels, groups) for i in range(layers)])
        self.upsamplers = nn.ModuleList([Upsample(out_channels)]) if upsample else None

    def forward(self, x: Tensor) -> Tensor:
        for block in self.resnets:
            x = block(x)
        return x if self.upsamplers is None else self.upsamplers[0](x)


class Encoder(nn.Module):
    """Image [B, 3, H, W] -> moments [B, 2C, H/f, W/f] (before quant_conv)."""

    def __init__(self, cfg: AutoencoderKLConfig):
        super().__init__()
        chans, groups = cfg.block_out_channels, cfg.norm_num_groups
        self.conv_in = nn.Conv2d(cfg.in_channels, chans[0], 3, padding=1)
        self.down_blocks = nn.ModuleList(
            EncoderBlock(chans[max(i - 1, 0)], chans[i], cfg.layers_per_block, groups, downsample=i < len(chans) - 1) for i in range(len(chans))
        )
        self.mid_block = MidBlock(chans[-1], groups, cfg.mid_block_add_attention)
        self.conv_norm_out = _norm(chans[-1], groups)
        self.conv_out = nn.Conv2d(chans[-1], 2 * cfg.latent_channels, 3, padding=1)
        self.factor = cfg.downscale_factor
        self.lapped = cfg.lapped
        if cfg.lapped:
            pad = lapped_padding(cfg)
            self.patch_skip = nn.Conv2d(cfg.in_channels, 2 * cfg.latent_channels, cfg.patch_kernel, stride=self.factor, padding=pad, padding_mode="replicate")
        else:
            self.patch_skip = nn.Conv2d(cfg.in_channels * self.factor**2, 2 * cfg.latent_channels, 1) if cfg.patch_skip else None

    def forward(self, images: Tensor) -> Tensor:
        x = self.conv_in(images)
        for block in self.down_blocks:
            x = block(x)
        moments = self.conv_out(F.silu(self.conv_norm_out(self.mid_block(x))))
        if self.patch_skip is None:
            return moments
        return moments + self.patch_skip(images if self.lapped else F.pixel_unshuffle(images, self.factor))


def pooling_windows(cfg: AutoencoderKLConfig) -> Tensor:
    """Pooling windows [n_windows, k, k] of the pooled encoder, each scaled to unit L2 norm and centred on a block;
    k = f plus three of the widest Gaussian's standard deviations on each side, rounded up to whole blocks.
    hermite: a Gaussian of pool_sigma latent pixels times the monomials of (x, y) / sigma up to pool_order;
    isotropic: per scale s_j = pool_sigma * 1.5^j a Gaussian and a Gaussian times (r^2 / s_j^2 - 2)."""
    f = cfg.downscale_factor
    sigmas = [cfg.pool_sigma * f * (1.5**j if cfg.pool_windows == "isotropic" else 1.0) for j in range(cfg.pool_order + 1)]
    k = f * (1 + 2 * math.ceil(3.0 * max(sigmas) / f))
    offsets = torch.arange(k, dtype=torch.float64) - (k - 1) / 2.0
    y, x = torch.meshgrid(offsets, offsets, indexing="ij")
    if cfg.pool_windows == "isotropic":
        windows = []
        for sigma in sigmas:
            r2 = (x**2 + y**2) / sigma**2
            windows += [torch.exp(-0.5 * r2), torch.exp(-0.5 * r2) * (r2 - 2.0)]
    elif cfg.pool_windows == "hermite":
        x, y = x / sigmas[0], y / sigmas[0]
        gauss = torch.exp(-0.5 * (x**2 + y**2))
        windows = [gauss * x**i * y ** (n - i) for n in range(cfg.pool_order + 1) for i in range(n + 1)]
    else:
        raise ValueError(f"pool_windows '{cfg.pool_windows}': choose hermite or isotropic")
    stacked = torch.stack(windows)
    return (stacked / stacked.flatten(1).norm(dim=1)[:, None, None]).float()


class PooledEncoder(nn.Module):
    """Image [B, 3, H, W] -> moments [B, 2C, H/f, W/f]: per-pixel features (the image and a small stride-1 network),
    each pooled by every window of `pooling_windows` at stride f, mixed by a 1x1 conv."""

    def __init__(self, cfg: AutoencoderKLConfig):
        super().__init__()
        width = cfg.pool_width
        self.features = nn.Sequential(
            nn.Conv2d(cfg.in_channels, width, cfg.pool_feature_kernel, padding=cfg.pool_feature_kernel // 2),
            nn.SiLU(),
            nn.Conv2d(width, width, 1),
            nn.SiLU(),
            nn.Conv2d(width, width, 1),
        )
        windows = pooling_windows(cfg)
        self.register_buffer("windows", windows, persistent=False)
        self.channels = cfg.in_channels + width
        self.mix = nn.Conv2d(self.channels * windows.shape[0], 2 * cfg.latent_channels, 1)
        self.factor = cfg.downscale_factor

    def pooled(self, images: Tensor) -> Tensor:
        """Every feature pooled by every window: [B, (3 + width) * n_windows, H/f, W/f]."""
        feats = torch.cat([images, self.features(images)], dim=1)
        k = self.windows.shape[-1]
        pad = (k - self.factor) // 2
        padded = F.pad(feats, (pad,) * 4, mode="replicate")
        weight = self.windows.repeat(self.channels, 1, 1)[:, None]  # [channels * n, 1, k, k]
        return F.conv2d(padded, weight, stride=self.factor, groups=self.channels)

    def forward(self, images: Tensor) -> Tensor:
        return self.mix(self.pooled(images))


class Decoder(nn.Module):
    """Latent [B, C, h, w] (after post_quant_conv) -> image [B, 3, h*f, w*f]."""

    def __init__(self, cfg: AutoencoderKLConfig):
        super().__init__()
        chans, groups = tuple(reversed(cfg.block_out_channels)), cfg.norm_num_groups
        self.conv_in = nn.Conv2d(cfg.latent_channels, chans[0], 3, padding=1)
        self.mid_block = MidBlock(chans[0], groups, cfg.mid_block_add_attention)
        self.up_blocks = nn.ModuleList(
            DecoderBlock(chans[max(i - 1, 0)], chans[i], cfg.layers_per_block + 1, groups, upsample=i < len(chans) - 1) for i in range(len(chans))
        )
        self.conv_norm_out = _norm(chans[-1], groups)
        self.conv_out = nn.Conv2d(chans[-1], cfg.out_channels, 3, padding=1)
        self.factor = cfg.downscale_factor
        self.lapped = cfg.lapped
        if cfg.lapped:
            # latents replicated one pixel outwards, so that border pixels get every window's overlap
            k, pad = cfg.patch_kernel, lapped_padding(cfg) + self.factor
            self.patch_skip = nn.ConvTranspose2d(cfg.latent_channels, cfg.out_channels, k, stride=self.factor, padding=pad)
        else:
            self.patch_skip = nn.Conv2d(cfg.latent_channels, cfg.out_channels * self.factor**2, 1) if cfg.patch_skip else None

    def forward(self, z: Tensor) -> Tensor:
        return self.head(self.trunk(z), z)

    def trunk(self, z: Tensor) -> Tensor:
        """Features [B, c, H/2, W/2] before the last up block (conv_in, mid block, all up blocks but the last)."""
        x = self.mid_block(self.conv_in(z))
        for block in self.up_blocks[:-1]:
            x = block(x)
        return x

    def head(self, x: Tensor, z: Tensor) -> Tensor:
        """Image [B, 3, H, W] from trunk features x and the latents z [B, C, h, w] (the patch path reads them)."""
        x = self.up_blocks[-1](x)
        image = self.conv_out(F.silu(self.conv_norm_out(x)))
        if self.patch_skip is None:
            return image
        if self.lapped:
            return image + self.patch_skip(F.pad(z, (1, 1, 1, 1), mode="replicate"))
        return image + F.pixel_shuffle(self.patch_skip(z), self.factor)


class AutoencoderKL(nn.Module):
    """encode(images [B, 3, H, W] in [-1, 1]) -> (mean, logvar) [B, C, H/f, W/f]; decode(z) -> images."""

    def __init__(self, cfg: AutoencoderKLConfig):
        super().__init__()
        if cfg.encoder_type not in ("cnn", "pooled"):
            raise ValueError(f"encoder_type '{cfg.encoder_type}': choose cnn or pooled")
        self.config = cfg
        self.encoder = PooledEncoder(cfg) if cfg.encoder_type == "pooled" else Encoder(cfg)
        self.decoder = Decoder(cfg)
        c = cfg.latent_channels
        self.quant_conv = nn.Conv2d(2 * c, 2 * c, 1) if cfg.use_quant_conv else None
        self.post_quant_conv = nn.Conv2d(c, c, 1) if cfg.use_post_quant_conv else None

    @property
    def latent_channels(self) -> int:
        return self.config.latent_channels

    def encoder_parameters(self) -> dict[str, nn.Parameter]:
        """Parameters that encoding uses (encoder + quant_conv), by state-dict name."""
        return {k: p for k, p in self.named_parameters() if k.startswith(ENCODER_PREFIXES)}

    def decoder_parameters(self) -> dict[str, nn.Parameter]:
        """Parameters that decoding uses (post_quant_conv + decoder), by state-dict name."""
        return {k: p for k, p in self.named_parameters() if not k.startswith(ENCODER_PREFIXES)}

    def decoder_head_parameters(self) -> dict[str, nn.Parameter]:
        """Parameters of the decoder's head (its last up block, output conv and patch path), by state-dict name."""
        last = len(self.decoder.up_blocks) - 1
        prefixes = (f"decoder.up_blocks.{last}.", "decoder.conv_norm_out.", "decoder.conv_out.", "decoder.patch_skip.")
        return {k: p for k, p in self.named_parameters() if k.startswith(prefixes)}

    @property
    def downscale_factor(self) -> int:
        return self.config.downscale_factor

    def encode(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean and log-variance [B, C, H/f, W/f] of images [B, 3, H, W] in [-1, 1]."""
        moments = self.encoder(images)
        if self.quant_conv is not None:
            moments = self.quant_conv(moments)
        mean, logvar = moments.chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z: Tensor, trunk_gradients: bool = True) -> Tensor:
        """Images [B, 3, h*f, w*f] (about [-1, 1]) from raw latents z [B, C, h, w]; trunk_gradients False runs all but
        the decoder's head without autograd (nothing upstream of the head learns from the result: a training step
        through it costs half of one through the whole decoder, benchmarks/decoder_step.py)."""
        with torch.set_grad_enabled(trunk_gradients and torch.is_grad_enabled()):
            if self.post_quant_conv is not None:
                z = self.post_quant_conv(z)
            features = self.decoder.trunk(z)
        if not features.requires_grad:  # torch 2.13's CPU GroupNorm backward crashes on channels-last input without grad
            features = features.contiguous()
        return self.decoder.head(features, z)

    def forward(self, images: Tensor, sample: bool = True) -> tuple[Tensor, Tensor, Tensor]:
        """Reconstruction [B, 3, H, W], mean and logvar; z is drawn from the posterior when `sample`."""
        mean, logvar = self.encode(images)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if sample else mean
        return self.decode(z), mean, logvar


def encoder_settings(cfg: AutoencoderKLConfig) -> tuple:
    """The configuration fields that decide what the encoder computes besides its weights (two models whose
    settings and encoder tensors agree encode alike)."""
    pooled = (cfg.pool_sigma, cfg.pool_width, cfg.pool_order, cfg.pool_windows, cfg.pool_feature_kernel) if cfg.encoder_type == "pooled" else ()
    return (cfg.encoder_type, cfg.downscale_factor, cfg.latent_channels, cfg.use_quant_conv, cfg.patch_skip, cfg.patch_kernel, *pooled)


@torch.no_grad()
def load_matching_tensors(model: nn.Module, source: nn.Module) -> list[str]:
    """Copies into `model` every state tensor of `source` with the same name and shape; returns the names of
    model's tensors left as they were (sorted)."""
    theirs = source.state_dict()
    missing = []
    for name, tensor in model.state_dict().items():
        if name in theirs and theirs[name].shape == tensor.shape:
            tensor.copy_(theirs[name])
        else:
            missing.append(name)
    return sorted(missing)


@torch.no_grad()
def standardize_latents(model: AutoencoderKL, shift: Tensor, scale: Tensor) -> None:
    """Reparametrises `model` in place so that its latents become (z - shift) * scale per channel ([C] each, or
    scalars), decoding unchanged: quant_conv's mean rows are shifted and scaled (the log-variance moves by
    2 ln scale), post_quant_conv undoes it on its input. decode(encode(x)) is the same function."""
    if model.quant_conv is None or model.post_quant_conv is None:
        raise ValueError("standardising latents needs quant_conv and post_quant_conv")
    c = model.latent_channels
    shift = torch.as_tensor(shift, dtype=torch.float32).expand(c).to(model.quant_conv.weight.device)
    scale = torch.as_tensor(scale, dtype=torch.float32).expand(c).to(model.quant_conv.weight.device)
    model.quant_conv.weight[:c] *= scale[:, None, None, None]
    model.quant_conv.bias[:c] = (model.quant_conv.bias[:c] - shift) * scale
    model.quant_conv.bias[c:] += 2.0 * torch.log(scale)
    post = model.post_quant_conv
    post.bias += post.weight[:, :, 0, 0] @ shift  # z = z' / scale + shift
    post.weight /= scale[None, :, None, None]


@torch.no_grad()
def latent_statistics(model: AutoencoderKL, images: Tensor) -> tuple[Tensor, Tensor]:
    """Per-channel mean and standard deviation [C] of the posterior means of `images` [B, 3, H, W] in [-1, 1]."""
    mean = model.encode(images)[0]
    return mean.mean(dim=(0, 2, 3)), mean.std(dim=(0, 2, 3)).clamp_min(1e-8)


def lapped_window(cfg: AutoencoderKLConfig) -> Tensor:
    """Sine window [k, k] of lapped patch paths, scaled so that its squares overlap-added at stride f sum to one
    (analysis and synthesis by the same window reproduce flat images)."""
    k, f = cfg.patch_kernel, cfg.downscale_factor
    window = torch.sin(torch.pi * (torch.arange(k) + 0.5) / k)
    overlap = torch.zeros(f).index_add_(0, torch.arange(k) % f, window**2).mean()
    window = window / overlap.sqrt()
    return window[:, None] * window[None, :]


@torch.no_grad()
def _identity_quant_convs(model: AutoencoderKL, logvar: float) -> None:
    """quant_conv passes the means through with a constant log-variance `logvar`; post_quant_conv is the identity."""
    c = model.latent_channels
    for conv in (model.quant_conv, model.post_quant_conv):
        conv.weight.zero_()
        conv.weight[:, :, 0, 0] = torch.eye(conv.weight.shape[0])
        conv.bias.zero_()
    model.quant_conv.weight[c:] = 0.0
    model.quant_conv.bias[c:] = logvar


@torch.no_grad()
def init_patch_paths_with_pca(model: AutoencoderKL, images: Tensor, logvar: float = -10.0) -> None:
    """Starts a patch_skip autoencoder as the best linear codec of `images` [B, 3, H, W] in [-1, 1]: its patch paths
    project each f x f patch on the top-C principal components and back, adding the mean patch (lapped: each
    sine-windowed k x k window on the top-C singular vectors of the windows, overlap-added back), quant_conv and post_quant_conv are identities (log-variance: constant `logvar`), and
    both conv_out layers start at zero, so the convolutional paths begin as no-ops and learn what a linear codec
    cannot."""
    enc, dec = model.encoder.patch_skip, model.decoder.patch_skip
    if enc is None or dec is None or model.quant_conv is None or model.post_quant_conv is None:
        raise ValueError("PCA initialisation needs patch_skip, quant_conv and post_quant_conv")
    cfg, c, f = model.config, model.latent_channels, model.downscale_factor
    if cfg.lapped:
        window = lapped_window(cfg).repeat(images.shape[1], 1, 1).reshape(-1)  # [3 k^2], unfold's order
        padded = F.pad(images, (lapped_padding(cfg),) * 4, mode="replicate")
        patches = (F.unfold(padded, cfg.patch_kernel, stride=f) * window[None, :, None]).transpose(1, 2)
        patches = patches.reshape(-1, window.numel())
    else:
        patches = F.pixel_unshuffle(images, f).permute(0, 2, 3, 1).reshape(-1, images.shape[1] * f * f)
    mean = torch.zeros_like(patches[0]) if cfg.lapped else patches.mean(0)  # lapped: uncentred (overlap-added means are not a bias)
    _, _, v = torch.linalg.svd(patches - mean, full_matrices=False)
    components = v[:c]  # [C, 3 f^2] (lapped: [C, 3 k^2]), orthonormal rows
    enc.weight.zero_()
    enc.bias.zero_()
    enc.bias[:c] = -(components @ mean)
    if cfg.lapped:  # analysis and synthesis by the same window: exact at full rank, away from the borders
        enc.weight[:c] = (components * window).reshape(enc.weight[:c].shape)
        dec.weight.copy_((components * window).reshape(dec.weight.shape))
        dec.bias.zero_()
    else:
        enc.weight[:c, :, 0, 0] = components
        dec.weight[:, :, 0, 0] = components.T
        dec.bias.copy_(mean)
    _identity_quant_convs(model, logvar)
    for conv in (model.encoder.conv_out, model.decoder.conv_out):
        conv.weight.zero_()
        conv.bias.zero_()


def init_pooled_with_pca(model: AutoencoderKL, images: Tensor, logvar: float = -10.0, fit_steps: int = 60) -> None:
    """Starts a pooled-encoder autoencoder as a linear codec of `images` [B, 3, H, W] in [-1, 1]: the mix takes the
    top-C principal components of the pooled values (each scaled to unit variance first, so the image's own and the
    random features weigh alike), whitened; quant_conv and post_quant_conv are identities (log-variance: constant
    `logvar`), the decoder's conv_out is zero and its lapped patch path is the least-squares decoding of those
    latents (L-BFGS)."""
    enc, dec = model.encoder, model.decoder.patch_skip
    if not isinstance(enc, PooledEncoder) or dec is None or not model.config.lapped or model.quant_conv is None or model.post_quant_conv is None:
        raise ValueError("the pooled PCA start needs a pooled encoder, lapped patch paths, quant_conv and post_quant_conv")
    c = model.latent_channels
    with torch.no_grad():
        pooled = enc.pooled(images).permute(0, 2, 3, 1).reshape(-1, enc.mix.in_channels)
        mean, spread = pooled.mean(0), pooled.std(0).clamp_min(1e-6)
        _, s, v = torch.linalg.svd((pooled - mean) / spread, full_matrices=False)
        components = v[:c] / (s[:c, None] / (pooled.shape[0] ** 0.5)).clamp_min(1e-6) / spread  # unit-variance latents
        enc.mix.weight[:, :, 0, 0] = 0.0
        enc.mix.bias.zero_()
        enc.mix.weight[:c, :, 0, 0] = components
        enc.mix.bias[:c] = -(components @ mean)
        _identity_quant_convs(model, logvar)
        model.decoder.conv_out.weight.zero_()
        model.decoder.conv_out.bias.zero_()
        dec.weight.zero_()
        dec.bias.zero_()
        z = model.encode(images)[0]
        z = F.pad(z, (1, 1, 1, 1), mode="replicate")
    solver = torch.optim.LBFGS([dec.weight, dec.bias], lr=1.0, max_iter=fit_steps, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        solver.zero_grad()
        loss = torch.mean((dec(z) - images) ** 2)
        loss.backward()
        return loss

    solver.step(closure)


def init_linear_codec(model: AutoencoderKL, images: Tensor, logvar: float = -10.0) -> None:
    """Starts a patch_skip autoencoder as a linear codec of `images` [B, 3, H, W] in [-1, 1], by its encoder's kind:
    init_pooled_with_pca for a pooled encoder, else init_patch_paths_with_pca."""
    if model.config.encoder_type == "pooled":
        init_pooled_with_pca(model, images, logvar)
    else:
        init_patch_paths_with_pca(model, images, logvar)


def kl_divergence(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)) summed over latent elements, averaged over the batch: scalar."""
    return 0.5 * torch.sum(mean**2 + logvar.exp() - 1.0 - logvar) / mean.shape[0]
