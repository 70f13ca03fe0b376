"""`latlas ae train`: trains or fine-tunes a KL autoencoder on the images of one or many data sets."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import torch

from latent_atlas.data.loading import find_scene_folders, load_scene
from latent_atlas.data.scene import composite_on_background
from latent_atlas.data.synth.correspondence import ViewPairs, scene_view_pairs
from latent_atlas.engine.checkpoints import flatten_optimizer, restore_optimizer, tensors_under
from latent_atlas.engine.config import RunConfig
from latent_atlas.engine.device import resolve_device
from latent_atlas.engine.optimizers import adam
from latent_atlas.engine.task import Task
from latent_atlas.errors import ConfigError, DataError
from latent_atlas.evaluation.metrics import psnr
from latent_atlas.methods.base import OptimizerConfig
from latent_atlas.rendering.backgrounds import background_colors
from latent_atlas.spaces.ae_loading import load_autoencoder, save_pretrained
from latent_atlas.spaces.autoencoder_kl import (
    AutoencoderKL,
    encoder_settings,
    init_linear_codec,
    kl_divergence,
    latent_statistics,
    load_matching_tensors,
    standardize_latents,
)
from latent_atlas.spaces.equivariance import shift_equivariance, view_consistency
from latent_atlas.spaces.presets import AE_PRESETS, preset_config


@dataclass
class AETrainConfig(RunConfig):
    """`latlas ae train`: an autoencoder trained (reconstruction + KL) on the images of data sets."""

    data: tuple[Path, ...] = ()
    """Scene folders, families or trees of them (train images are used, val images are held out)."""
    preset: Literal[
        "tiny", "tiny16", "latlas-f8c16", "latlas-f8c16-lapped", "latlas-f8c16-pooled", "latlas-f4c16-pooled", "latlas-f4c16-slim", "stable-diffusion", "ostris"
    ] = "tiny"
    """Architecture: tiny, tiny16, latlas-f8c16 (the built-in one's: 8x8 block patch paths), latlas-f8c16-lapped (the same
    with overlapping 16x16 patch paths, whose latents move with the image), latlas-f8c16-pooled / latlas-f4c16-pooled
    (latents pooled from per-pixel features by fixed smooth windows: oriented at f8, isotropic at f4), latlas-f4c16-slim
    (latlas-f4c16-pooled's encoder with a quarter-width decoder), stable-diffusion or ostris."""
    init: Optional[str] = None
    """Start from these weights (any --ae value: folder, file, hub id) instead of random ones."""
    init_parts: Literal["all", "matching"] = "all"
    """What --init provides: all (the whole model, in --init's own architecture), or matching (--preset's architecture,
    taking every tensor of --init whose name and shape fit it and starting the others fresh: with --train-parts
    decoder, a new decoder of other widths for --init's encoder and latent space)."""
    train_parts: Literal["all", "decoder"] = "all"
    """What the optimiser changes: all (encoder and decoder), or decoder (the encoder and its posterior, so the latent
    space and its noise, stay as --init left them; add --latent-std 0 so that the export does not rescale them)."""
    max_steps: int = 2000
    """Optimisation steps."""
    batch_size: int = 16
    """Images per step (all of one size)."""
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(lr=2e-3, lr_final=2e-4))
    """Adam with exponential decay over the run."""
    kl_weight: float = 1e-6
    """Weight of the KL term (summed over latent elements, averaged over images) against the mean squared error
    (averaged over pixels): relative to the reconstruction term it is 3*H*W times Stable Diffusion's 1e-6, whose
    reconstruction term is summed over pixels (12288x at 64-px crops). Its pull on the posterior's log-variance is
    still small next to the MSE's: latlas-f4c16-pooled's latent noise stayed near its start (logvar_init). With --init
    of a standardised autoencoder (the built-in ones: latents of standard deviation 5.5) the term is ~170x the
    MSE and shrinks the latents and their noise: fine-tune those with 0."""
    latent_std: float = 5.5
    """The exported autoencoder is reparametrised (exactly, decoding unchanged) so that its latents have this standard
    deviation on the training images, as Stable Diffusion's raw latents (~1 / 0.18215): latent NeRFs squash z with
    tanh(0.02 z), which needs latents of that scale (0: export as trained)."""
    latent_standardize: Literal["global", "per-channel"] = "global"
    """How latent_std is reached: global (one scale for all latents) or per-channel (each channel centred and scaled,
    as the built-in autoencoders are; it made a latent D-NeRF's margin over a constant fall below the test bound)."""
    background: Literal["white", "black", "random", "varied"] = "white"
    """What transparent pixels are composited on: white, black, random (a colour per image) or varied (white
    for half the images, a random colour for the rest)."""
    logvar_init: float = -10.0
    """Starting log-variance of the posterior of a fresh patch_skip autoencoder (PCA start, whitened latents for the
    pooled presets): -10 keeps sampling noise from drowning the linear codec's latents in the first steps; -2.4 to
    -1.4 (noise of 0.3-0.5 of the latents' spread, which barely moves at the default KL weight) trains a decoder that
    tolerates a latent NeRF's render errors (latlas-f4c16-pooled: +0.8 / +1.6 dB decoded at 120 s).
    Other presets keep their random init (about 0): setting it there did not speed training up."""
    crop: int = 0
    """Train on random square crops of this many pixels (a multiple of the factor; 0: whole images). The
    network is convolutional: crops make steps cheaper without changing what it learns to code."""
    equivariance_decoder: float = 0.0
    """Weight of the decoder's shift-equivariance error |D(shift(z)) - shift(x)|^2 (spaces/equivariance.py; needs
    --crop): latents resampled a random fraction of a latent pixel must decode to the image moved as much."""
    equivariance_encoder: float = 0.0
    """Weight of the encoder's shift-equivariance error |E(shift(x)) - shift(E(x))|^2 / Var(E(x)), per channel (needs --crop):
    the latents of a moved image must be the resampled latents, so that a latent NeRF can fit them."""
    consistency_data: tuple[Path, ...] = ()
    """Synthesized scenes (`latlas data synth` folders with their primitives.json, or trees of them) whose train views
    each pair with their nearest view for --consistency-weight (the surface points they share are traced)."""
    consistency_weight: float = 0.0
    """Weight of the view-consistency error |E(x_B) - E(x_A) at the same surface points|^2 / Var(E(x_B)), per
    channel (spaces/equivariance.py; needs --consistency-data): neighbouring views must code what they both see
    alike, so that a latent NeRF, which renders one value per surface point, can fit and generalise across views."""
    consistency_pairs: int = 2
    """View pairs per step for --consistency-weight (whole images: each pair costs two full encodings)."""
    experiment_name: Optional[str] = "autoencoders"
    """Experiment folder name."""
    checkpoint_every: int = 250
    """Steps between checkpoints (each also refreshes RUN/autoencoder)."""
    log_every: int = 50
    """Steps between log lines."""
    eval_every: int = 0
    """Steps between reconstruction PSNRs of held-out images (0: only at the end)."""


def gather_images(folders: tuple[Path, ...], split: str) -> dict[tuple[int, int], torch.Tensor]:
    """uint8 RGBA images [N, H, W, 4] of a split of every scene found under `folders`, grouped by (H, W)."""
    buckets: dict[tuple[int, int], list[torch.Tensor]] = {}
    for root in folders:
        for scene_dir in find_scene_folders(root):
            scene = load_scene(scene_dir)
            if split not in scene.splits:
                continue
            images = scene.splits[split].images
            buckets.setdefault(tuple(images.shape[1:3]), []).append(images)
    return {size: torch.cat(parts) for size, parts in buckets.items()}


def random_crops(images: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """One random size x size crop of each image [B, H, W, C] -> [B, size, size, C] (size 0: the images)."""
    if size <= 0:
        return images
    b, h, w, _ = images.shape
    top = torch.randint(h - size + 1, (b,), generator=generator)
    left = torch.randint(w - size + 1, (b,), generator=generator)
    return torch.stack([image[y : y + size, x : x + size] for image, y, x in zip(images, top.tolist(), left.tolist())])


def spread_images(images: torch.Tensor, count: int) -> torch.Tensor:
    """Up to `count` images [N, ...] evenly spaced over the set (so over all of its scenes) -> [count, ...]."""
    return images[torch.linspace(0, images.shape[0] - 1, min(count, images.shape[0])).long()]


def model_input(rgba: torch.Tensor, backgrounds: torch.Tensor) -> torch.Tensor:
    """Images [B, 3, H, W] in [-1, 1] from straight-alpha RGBA [B, H, W, 4] in [0, 1] on background colours [B, 3]."""
    return (composite_on_background(rgba, backgrounds[:, None, None, :]) * 2.0 - 1.0).permute(0, 3, 1, 2)


def training_backgrounds(mode: str, count: int, generator: torch.Generator) -> torch.Tensor:
    """Background colour per training image [count, 3]: varied is white for half the images, random for the rest."""
    if mode != "varied":
        return background_colors(mode, count, 3, generator)
    colours = torch.rand(count, 3, generator=generator)
    white = torch.rand(count, generator=generator) < 0.5
    return torch.where(white[:, None], torch.ones_like(colours), colours)


class AETrainer(Task):
    """Trains one autoencoder; `train()` returns the run folder (its `autoencoder/` is what --ae takes)."""

    name = "autoencoder"

    def __init__(self, config: AETrainConfig):
        if not config.data:
            raise ConfigError("--data is required (one or more data set folders)")
        if config.preset not in AE_PRESETS:
            raise ConfigError(f"--preset {config.preset}: choose from {', '.join(AE_PRESETS)}")
        if config.train_parts == "decoder" and not config.init:
            raise ConfigError("--train-parts decoder needs --init (an encoder to keep)")
        self.config = config
        self.device = resolve_device(config.device)
        torch.manual_seed(config.seed)
        self.train_images = gather_images(config.data, "train")
        self.val_images = gather_images(config.data, "val")
        if not self.train_images:
            raise DataError(config.data[0], "no training images found")
        factor = preset_config(config.preset).downscale_factor
        for h, w in self.train_images:
            if h % factor or w % factor:
                raise DataError(config.data[0], f"images of {w}x{h} are not divisible by the autoencoder's factor {factor}")
            if config.crop > min(h, w):
                raise ConfigError(f"--crop {config.crop} is larger than the {w}x{h} training images")
        if config.crop < 0 or config.crop % factor:
            raise ConfigError(f"--crop {config.crop}: use 0 or a multiple of the autoencoder's factor {factor}")
        if self.equivariant:
            if config.crop <= factor:
                raise ConfigError(f"--equivariance-*: needs --crop larger than the autoencoder's factor {factor} (images are moved inside a crop)")
            for h, w in self.train_images:
                if config.crop + factor > min(h, w):
                    raise ConfigError(f"--equivariance-*: --crop {config.crop} + {factor} pixels of shift exceed the {w}x{h} training images")
        self.view_pairs = self._load_view_pairs(factor) if config.consistency_weight > 0 else None
        self.generator = torch.Generator().manual_seed(config.seed)
        if config.init and config.init_parts == "matching":
            self.model: AutoencoderKL = self._matching_init(config.init).to(self.device).train()
        elif config.init:
            self.model = load_autoencoder(config.init, config.preset).to(self.device).train()
        else:
            self.model = AutoencoderKL(preset_config(config.preset)).to(self.device).train()
            if self.model.config.patch_skip:  # start as the best linear codec of the training images
                sample = torch.cat([self._batch(images, 64, self.generator) for images in self.train_images.values()])
                init_linear_codec(self.model, sample, config.logvar_init)
        if config.train_parts == "decoder":
            for p in self.model.encoder_parameters().values():
                p.requires_grad_(False)
        trained = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = adam(trained, lr=config.optimizer.lr, eps=config.optimizer.eps, betas=config.optimizer.betas)
        self.open_run()

    def _matching_init(self, init: str) -> AutoencoderKL:
        """--preset's architecture with every tensor of --init whose name and shape fit (ConfigError when the encoder,
        which --train-parts decoder keeps, does not come whole from --init)."""
        source = load_autoencoder(init, self.config.preset)
        if not isinstance(source, AutoencoderKL):
            raise ConfigError(f"--init {init}: --init-parts matching needs one of our AutoencoderKL models, not {type(source).__name__}")
        model = AutoencoderKL(preset_config(self.config.preset))
        missing = load_matching_tensors(model, source)
        if self.config.train_parts == "decoder":
            kept = set(model.encoder_parameters())
            if kept & set(missing) or encoder_settings(model.config) != encoder_settings(source.config):
                raise ConfigError(f"--init {init}: its encoder does not fit --preset {self.config.preset}'s, so --train-parts decoder would keep a random one")
        return model

    @property
    def total_steps(self) -> int:
        return self.config.max_steps

    @property
    def equivariant(self) -> bool:
        """Whether the shift-equivariance terms are trained."""
        return self.config.equivariance_decoder > 0 or self.config.equivariance_encoder > 0

    def _load_view_pairs(self, factor: int) -> ViewPairs:
        """The traced view pairs of every synthesized scene under --consistency-data."""
        if not self.config.consistency_data:
            raise ConfigError("--consistency-weight needs --consistency-data (synthesized scenes with their primitives.json)")
        if self.config.train_parts == "decoder":
            raise ConfigError("--consistency-weight trains the encoder: it cannot go with --train-parts decoder")
        if self.config.consistency_pairs < 1:
            raise ConfigError(f"--consistency-pairs {self.config.consistency_pairs}: use 1 or more")
        folders = [scene for root in self.config.consistency_data for scene in find_scene_folders(root)]
        if not folders:
            raise DataError(self.config.consistency_data[0], "no scenes found for --consistency-data")
        parts = [scene_view_pairs(folder, factor) for folder in folders]
        for folder, part in zip(folders, parts):
            if part.images.shape[1:3] != parts[0].images.shape[1:3]:
                raise DataError(folder, f"views of {tuple(part.images.shape[1:3])} pixels; --consistency-data scenes must share one size")
        pairs = ViewPairs.cat(parts)
        if not pairs.mask.any():
            raise DataError(self.config.consistency_data[0], "no surface point is seen by two neighbouring views at the latent resolution (views too small?)")
        return pairs

    def kind(self) -> str:
        return f"ae-{self.config.preset}"

    def random_generators(self) -> dict[str, torch.Generator]:
        return {"sampler": self.generator}

    def checkpoint_state(self) -> tuple[dict[str, torch.Tensor], dict]:
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        flat, meta = flatten_optimizer("optim", self.optimizer)
        tensors.update(flat)
        return tensors, {"optimizer": meta}

    def load_checkpoint_state(self, tensors: dict[str, torch.Tensor], state: dict) -> None:
        self.model.load_state_dict(tensors_under(tensors, "model."))
        restore_optimizer("optim", self.optimizer, tensors, state["optimizer"])

    def after_save(self) -> None:
        """Each checkpoint refreshes RUN/autoencoder in diffusers' layout."""
        save_pretrained(self.exported(), self.run_dir / "autoencoder")

    @torch.no_grad()
    def exported(self) -> AutoencoderKL:
        """A copy of the model with standardised latents (see AETrainConfig.latent_std)."""
        export = copy.deepcopy(self.model).eval()
        if self.config.latent_std > 0:
            images = self.train_images[sorted(self.train_images)[0]]
            if self.config.latent_standardize == "per-channel":
                spread = spread_images(images, 64)
                mean, std = latent_statistics(export, self._batch(spread, spread.shape[0], None))
                standardize_latents(export, mean, self.config.latent_std / std)
            else:
                std = export.encode(self._batch(images, 32, None))[0].std().clamp_min(1e-8)
                standardize_latents(export, torch.zeros(()), self.config.latent_std / std)
            export.config.scaling_factor = 1.0 / self.config.latent_std
        return export

    def _batch(self, images: torch.Tensor, count: int, generator: torch.Generator | None, crop: int | None = None) -> torch.Tensor:
        """count images [B, 3, H, W] in [-1, 1] composited on the configured background; with a generator (training)
        random images, random crops (of `crop` pixels, default --crop) and random backgrounds, without one the first
        images on white."""
        if generator is None:
            rgba = images[: min(count, images.shape[0])].float() / 255.0
            bg = background_colors("black" if self.config.background == "black" else "white", rgba.shape[0], 3)
        else:
            rgba = random_crops(images[torch.randint(images.shape[0], (count,), generator=generator)], crop or self.config.crop, generator).float() / 255.0
            bg = training_backgrounds(self.config.background, count, generator)
        return model_input(rgba, bg).to(self.device)

    def train_step(self) -> dict[str, float]:
        sizes = list(self.train_images)
        counts = torch.tensor([self.train_images[s].shape[0] for s in sizes], dtype=torch.float)
        size = sizes[int(torch.multinomial(counts, 1, generator=self.generator))]
        cfg, factor = self.config, self.model.downscale_factor
        wide = self._batch(self.train_images[size], cfg.batch_size, self.generator, cfg.crop + factor if self.equivariant else None)
        x = wide[..., : cfg.crop, : cfg.crop] if self.equivariant else wide
        for group in self.optimizer.param_groups:
            group["lr"] = cfg.optimizer.lr_at(self.progress()) * self.lr_scale
        reconstruction, mean, logvar = self.model(x)
        mse = torch.mean((reconstruction - x) ** 2)
        kl = kl_divergence(mean, logvar)
        loss = mse + cfg.kl_weight * kl
        logs = {"mse": mse.item(), "kl": kl.item()}
        if self.equivariant:
            ty, tx = torch.randint(factor + 1, (2,), generator=self.generator).tolist()
            terms = shift_equivariance(self.model, wide, cfg.crop, ty, tx, latents=mean)
            loss = loss + cfg.equivariance_decoder * terms.decoder + cfg.equivariance_encoder * terms.encoder
            logs.update(equivariance_decoder=terms.decoder.item(), equivariance_encoder=terms.encoder.item())
        if self.view_pairs is not None:
            consistency = self._view_consistency()
            loss = loss + cfg.consistency_weight * consistency
            logs["view_consistency"] = consistency.item()
        if not torch.isfinite(loss):  # the engine reports it; no step is taken with it
            return {"loss": loss.item(), **logs}
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item(), **logs, "psnr": psnr(((reconstruction.detach() + 1) / 2).clamp(0, 1), (x + 1) / 2)}

    def _view_consistency(self) -> torch.Tensor:
        """view_consistency of --consistency-pairs random pairs, both views of a pair on one random background."""
        pairs = self.view_pairs
        chosen = torch.randint(len(pairs), (self.config.consistency_pairs,), generator=self.generator)
        views = torch.cat([pairs.target[chosen], pairs.source[chosen]])
        bg = training_backgrounds(self.config.background, chosen.numel(), self.generator).repeat(2, 1)
        x = model_input(pairs.images[views].float() / 255.0, bg).to(self.device)
        target, source = self.model.encode(x)[0].chunk(2)
        return view_consistency(target, source, pairs.grid[chosen].to(self.device), pairs.mask[chosen].to(self.device))

    @torch.no_grad()
    def evaluate(self, max_images: int = 32) -> dict[str, float]:
        """Reconstruction PSNR of held-out (val) images, posterior means, [0, 1] range."""
        self.model.eval()
        values = []
        for images in (self.val_images or self.train_images).values():
            x = self._batch(images, max_images, None)
            recon = self.model(x, sample=False)[0]
            values += [psnr(((r + 1) / 2).clamp(0, 1).permute(1, 2, 0), ((t + 1) / 2).permute(1, 2, 0)) for r, t in zip(recon, x)]
        self.model.train()
        return {"val_psnr": sum(values) / len(values)}

    def summary(self) -> dict:
        return {"preset": self.config.preset, "parameters": sum(p.numel() for p in self.model.parameters()), **self.evaluate()}
