"""`latlas ae train`: trains or fine-tunes a KL autoencoder on the images of one or many data sets."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import torch

from latent_atlas.data.loading import find_scene_folders, load_scene
from latent_atlas.data.scene import composite_on_background
from latent_atlas.engine.checkpoints import flatten_optimizer, restore_optimizer, tensors_under
from latent_atlas.engine.config import RunConfig
from latent_atlas.engine.device import resolve_device
from latent_atlas.engine.task import Task
from latent_atlas.errors import ConfigError, DataError
from latent_atlas.evaluation.metrics import psnr
from latent_atlas.methods.base import OptimizerConfig
from latent_atlas.rendering.backgrounds import background_colors
from latent_atlas.spaces.ae_loading import load_autoencoder, save_pretrained
from latent_atlas.spaces.autoencoder_kl import AutoencoderKL, kl_divergence, rescale_latents
from latent_atlas.spaces.presets import AE_PRESETS, preset_config


@dataclass
class AETrainConfig(RunConfig):
    """`latlas ae train`: an autoencoder trained (reconstruction + KL) on the images of data sets."""

    data: tuple[Path, ...] = ()
    """Scene folders, families or trees of them (train images are used, val images are held out)."""
    preset: Literal["tiny", "tiny16", "stable-diffusion", "ostris"] = "tiny"
    """Architecture: tiny, tiny16, stable-diffusion or ostris."""
    init: Optional[str] = None
    """Start from these weights (any --ae value: folder, file, hub id) instead of random ones."""
    max_steps: int = 2000
    """Optimisation steps."""
    batch_size: int = 16
    """Images per step (all of one size)."""
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(lr=2e-3, lr_final=2e-4))
    """Adam with exponential decay over the run."""
    kl_weight: float = 1e-6
    """Weight of the KL term (per latent element sum) against the mean squared error."""
    latent_std: float = 5.5
    """The exported autoencoder is rescaled (exactly, decoding unchanged) so that its latents have this standard
    deviation on the training images, as Stable Diffusion's raw latents (~1 / 0.18215): latent NeRFs squash z with
    tanh(0.02 z), which needs latents of that scale (0: export as trained)."""
    background: Literal["white", "black", "random"] = "white"
    """What transparent pixels are composited on: white, black or random (per image)."""
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


class AETrainer(Task):
    """Trains one autoencoder; `train()` returns the run folder (its `autoencoder/` is what --ae takes)."""

    name = "autoencoder"

    def __init__(self, config: AETrainConfig):
        if not config.data:
            raise ConfigError("--data is required (one or more data set folders)")
        if config.preset not in AE_PRESETS:
            raise ConfigError(f"--preset {config.preset}: choose from {', '.join(AE_PRESETS)}")
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
        self.model: AutoencoderKL = (
            (load_autoencoder(config.init, config.preset) if config.init else AutoencoderKL(preset_config(config.preset))).to(self.device).train()
        )
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.optimizer.lr, eps=config.optimizer.eps, betas=config.optimizer.betas)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.open_run()

    @property
    def total_steps(self) -> int:
        return self.config.max_steps

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
        """A copy of the model with latents rescaled to config.latent_std (see AETrainConfig.latent_std)."""
        export = copy.deepcopy(self.model).eval()
        if self.config.latent_std > 0:
            sizes = sorted(self.train_images)
            x = self._batch(self.train_images[sizes[0]], 32, None)
            std = export.encode(x)[0].std().item()
            rescale_latents(export, self.config.latent_std / max(std, 1e-8))
            export.config.scaling_factor = 1.0 / self.config.latent_std
        return export

    def _batch(self, images: torch.Tensor, count: int, generator: torch.Generator | None) -> torch.Tensor:
        """count images [B, 3, H, W] in [-1, 1], composited on the configured background."""
        index = torch.randint(images.shape[0], (count,), generator=generator) if generator is not None else torch.arange(min(count, images.shape[0]))
        rgba = images[index].float() / 255.0
        bg = background_colors(self.config.background, rgba.shape[0], 3, generator)[:, None, None, :]
        return (composite_on_background(rgba, bg) * 2.0 - 1.0).permute(0, 3, 1, 2).to(self.device)

    def train_step(self) -> dict[str, float]:
        sizes = list(self.train_images)
        counts = torch.tensor([self.train_images[s].shape[0] for s in sizes], dtype=torch.float)
        size = sizes[int(torch.multinomial(counts, 1, generator=self.generator))]
        x = self._batch(self.train_images[size], self.config.batch_size, self.generator)
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.optimizer.lr_at(self.progress()) * self.lr_scale
        reconstruction, mean, logvar = self.model(x)
        mse = torch.mean((reconstruction - x) ** 2)
        kl = kl_divergence(mean, logvar)
        loss = mse + self.config.kl_weight * kl
        if not torch.isfinite(loss):  # the engine reports it; no step is taken with it
            return {"loss": loss.item(), "loss_mse": mse.item(), "loss_kl": kl.item()}
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item(), "mse": mse.item(), "kl": kl.item(), "psnr": psnr(((reconstruction.detach() + 1) / 2).clamp(0, 1), (x + 1) / 2)}

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
