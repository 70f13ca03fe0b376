"""The training loop: sample rays, render, step the optimisers, log, evaluate, checkpoint, resume."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from latent_atlas.backends import set_backend
from latent_atlas.config_io import to_jsonable
from latent_atlas.data.loading import load_scene
from latent_atlas.data.pixel_sampler import PixelSampler
from latent_atlas.data.scene import SceneData, composite_on_background
from latent_atlas.errors import ConfigError, DataError, TrainingDivergedError
from latent_atlas.methods.base import Model
from latent_atlas.methods.base import OptimizerConfig, mse as mse_loss
from latent_atlas.rendering.backgrounds import BACKGROUNDS, background_colors
from latent_atlas.training.checkpoints import flatten_optimizer, latest_checkpoint, load_checkpoint, restore_optimizer, save_checkpoint
from latent_atlas.training.config import TrainConfig
from latent_atlas.training.interrupts import checkpoint_on_interrupt
from latent_atlas.training.latent_metrics import score_latent_view
from latent_atlas.training.logger import RunLogger
from latent_atlas.training.precision import autocast, grad_scaler, resolve_precision
from latent_atlas.training.metrics import psnr_from_mse
from latent_atlas.spaces.image_space import ImageSpace
from latent_atlas.training.render_views import camera_rays, render_full_view, score_view
from latent_atlas.training.space_setup import build_space, rgb_background
from latent_atlas.training.run_dir import new_run_dir, save_config


def resolve_device(name: str) -> torch.device:
    """torch device for 'cpu', 'cuda' or 'auto'."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: CUDA is not available on this machine")
    if not (name == "cpu" or name.startswith("cuda")):
        raise ConfigError(f"--device {name}: expected cpu, cuda or auto")
    return torch.device(name)


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory of this run: CUDA allocator peak on GPU, else the process's peak RSS (MiB)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


AE_DECODER = "ae_decoder"
"""Optimiser name of a latent space's decoder while it is fine-tuned (not a model parameter group)."""


def build_model(config: TrainConfig, scene: SceneData, device: torch.device) -> Model:
    """The method's model for a scene (as many channels as its images), on `device`."""
    train = scene.split("train")
    return config.method.model.setup(train.channels, scene.box_min, scene.box_max, num_cameras=len(train)).to(device)


def map_into_space(space: ImageSpace, scene: SceneData, background: torch.Tensor) -> SceneData:
    """The scene's splits in `space` (DataError naming the scene when its images do not fit)."""
    try:
        return space.map_scene(scene, background)
    except ValueError as exc:
        raise DataError(scene.source, str(exc)) from None


def decoder_parameters(space: ImageSpace) -> dict[str, torch.nn.Parameter]:
    """The decoder side of a latent space's autoencoder (post_quant_conv + decoder), by state-dict name."""
    autoencoder = getattr(space, "autoencoder", None)
    if autoencoder is None:
        return {}
    return autoencoder.decoder_parameters()


def load_decoder_state(space: ImageSpace, tensors: dict[str, torch.Tensor]) -> None:
    """Loads the `space.*` tensors of a checkpoint (a fine-tuned decoder) into the space's autoencoder."""
    params = decoder_parameters(space)
    with torch.no_grad():
        for name, value in tensors.items():
            if name.startswith("space.") and name[len("space."):] in params:
                params[name[len("space."):]].copy_(value)


def load_model_state(model: Model, tensors: dict[str, torch.Tensor]) -> None:
    """Loads the `model.*` tensors of a checkpoint, resizing grids that grew during training."""
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    model.resize_to_state_dict(state)
    model.load_state_dict(state)


class Trainer:
    """Trains one scene. `train()` returns the run folder."""

    def __init__(self, config: TrainConfig, run_dir: Path | None = None):
        if config.data is None:
            raise ConfigError("--data is required (a scene folder)")
        if config.background not in BACKGROUNDS:
            raise ConfigError(f"--background {config.background}: choose from {', '.join(BACKGROUNDS)}")
        self.config = config
        self.device = resolve_device(config.device)
        self.precision = resolve_precision(config.mixed_precision, self.device, config.method.bf16_on_cuda)  # autocast dtype or None
        self.scaler = grad_scaler(self.device, self.precision)
        try:
            set_backend(config.backend)
        except ValueError as exc:
            raise ConfigError(f"--backend: {exc}") from None
        self.space = build_space(config, self.device)
        self.rgb_scene = load_scene(config.data, config.data_format, config.auto_scale_poses)
        self.rgb_background = rgb_background(config)  # [3]: eval views, and every view in a latent space
        self.scene = map_into_space(self.space, self.rgb_scene, self.rgb_background)
        self.background_value = self.space.background_value(self.rgb_background).to(self.device)  # [C]
        self.train_split = self.scene.split("train")
        self.eval_split = self.scene.split("val")
        torch.manual_seed(config.seed)
        self.model = build_model(config, self.scene, self.device)
        self.model.set_space_black(self.space.background_value(torch.zeros(3)).to(self.device))
        self.sampler = PixelSampler(self.train_split, config.seed)
        self.box_min, self.box_max = self.scene.box_min.to(self.device), self.scene.box_max.to(self.device)
        self.train_cameras = self.train_split.cameras.to(self.device)
        self.step = 0
        self.train_seconds = 0.0
        self.rays_per_batch = config.method.rays_per_batch  # adapts when method.samples_per_batch is set
        self.rays_seen = 0
        if config.resume is not None:
            self.run_dir = Path(config.resume)
            self._restore()
        else:
            self.run_dir = run_dir or new_run_dir(config)
            self.optimizers = self._make_optimizers()
        save_config(self.run_dir, config)
        self.logger = RunLogger(self.run_dir, config.wandb, to_jsonable(config))

    # ---- set-up -------------------------------------------------------------------------------
    def _make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Adam/AdamW per model parameter group (a decoder being fine-tuned keeps its own optimiser)."""
        groups = self.model.param_groups()
        missing = set(groups) - set(self.config.method.optimizers)
        if missing:
            raise ConfigError(f"method has parameter groups without an optimiser: {sorted(missing)}")
        optimizers = {}
        for name, params in groups.items():
            if not params:
                continue
            opt = self.config.method.optimizers[name]
            cls = torch.optim.AdamW if opt.weight_decay > 0 else torch.optim.Adam
            optimizers[name] = cls(params, lr=opt.lr, eps=opt.eps, betas=opt.betas, weight_decay=opt.weight_decay)
        if AE_DECODER in getattr(self, "optimizers", {}):
            optimizers[AE_DECODER] = self.optimizers[AE_DECODER]
        return optimizers

    # ---- latent space: decoded phase ------------------------------------------------------------
    def in_decoded_phase(self, progress: float) -> bool:
        """Whether the decoded-RGB loss is on (latent space, past latent.decoder_start)."""
        latent = self.config.latent
        return self.space.name == "latent" and latent.loss_d_weight > 0 and progress >= latent.decoder_start

    def _start_decoder_finetuning(self) -> None:
        """Unfreezes the decoder and gives it an Adam optimiser (once)."""
        if AE_DECODER in self.optimizers or not self.config.latent.finetune_decoder:
            return
        params = list(decoder_parameters(self.space).values())
        for p in params:
            p.requires_grad_(True)
        self.optimizers[AE_DECODER] = torch.optim.Adam(params, lr=self.config.latent.decoder_lr)

    def decoder_lr(self, progress: float) -> float:
        """Exponential decay from decoder_lr at the phase start to decoder_lr_final at the end of the run."""
        latent = self.config.latent
        phase = (progress - latent.decoder_start) / max(1.0 - latent.decoder_start, 1e-9)
        return OptimizerConfig(lr=latent.decoder_lr, lr_final=latent.decoder_lr_final).lr_at(phase)

    def decoded_loss(self) -> torch.Tensor:
        """|D(render) - image|^2 on one random training view rendered in full (latent-nerfstudio's loss_d)."""
        index = int(torch.randint(len(self.train_split), (1,), generator=self.sampler.generator))
        render = render_full_view(self.model, self.train_cameras, index, self.background_value, self.box_min, self.box_max, self.config.method.eval_chunk, training_cameras=True)["color"]
        decoded = self.space.decode(render[None])[0]
        target = composite_on_background(self.rgb_scene.split("train").rgba(index), self.rgb_background).to(decoded.device)
        return mse_loss(decoded, target)

    # ---- checkpoints --------------------------------------------------------------------------
    def save(self, keep_forever: bool = False) -> Path:
        """Writes a checkpoint of everything needed to continue exactly (`keep_forever`: never pruned)."""
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        optim_meta = {}
        for name, optimizer in self.optimizers.items():
            flat, meta = flatten_optimizer(f"optim.{name}", optimizer)
            tensors.update(flat)
            optim_meta[name] = meta
        if AE_DECODER in self.optimizers:  # fine-tuned decoder weights travel with the checkpoint
            tensors.update({f"space.{k}": v for k, v in decoder_parameters(self.space).items()})
        tensors["rng.torch"] = torch.get_rng_state()
        tensors["rng.sampler"] = self.sampler.generator.get_state()
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        state = {"train_seconds": self.train_seconds, "optimizers": optim_meta, "method_name": self.config.method_name,
                 "rays_per_batch": self.rays_per_batch, "rays_seen": self.rays_seen, "grad_scaler": self.scaler.state_dict()}
        return save_checkpoint(self.run_dir / "checkpoints", self.step, tensors, state, self.config.keep_checkpoints, keep_forever)

    def _restore(self) -> None:
        """Loads the latest checkpoint: model first (its grids may have been resized), then optimisers."""
        path = latest_checkpoint(self.run_dir / "checkpoints")
        if path is None:  # killed before its first checkpoint: starts again from step 0
            self.optimizers = self._make_optimizers()
            return
        tensors, state = load_checkpoint(path)
        load_model_state(self.model, tensors)
        self.optimizers = self._make_optimizers()
        if AE_DECODER in state["optimizers"]:
            load_decoder_state(self.space, tensors)
            self._start_decoder_finetuning()
        for name, optimizer in self.optimizers.items():
            restore_optimizer(f"optim.{name}", optimizer, tensors, state["optimizers"][name])
        torch.set_rng_state(tensors["rng.torch"])
        self.sampler.generator.set_state(tensors["rng.sampler"])
        if "rng.cuda" in tensors and self.device.type == "cuda":
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        self.step = int(state["step"])
        self.train_seconds = float(state["train_seconds"])
        self.rays_per_batch = int(state.get("rays_per_batch", self.rays_per_batch))
        self.rays_seen = int(state.get("rays_seen", self.step * self.rays_per_batch))
        if state.get("grad_scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["grad_scaler"])

    # ---- one step -----------------------------------------------------------------------------
    def progress(self) -> float:
        """Fraction of the schedule done: by steps, or by time when --max-time binds sooner."""
        frac = self.step / max(self.config.method.max_steps, 1)
        if self.config.max_time:
            frac = max(frac, self.train_seconds / self.config.max_time)
        return frac

    def train_step(self) -> dict[str, float]:
        """One optimisation step on a random ray batch; returns the logged scalars."""
        method = self.config.method
        progress = self.progress()
        if self.model.before_step(self.step, progress):
            self.optimizers = self._make_optimizers()
        decoded_phase = self.in_decoded_phase(progress)
        if decoded_phase:
            self._start_decoder_finetuning()
        for name, optimizer in self.optimizers.items():
            lr = self.decoder_lr(progress) if name == AE_DECODER else method.optimizers[name].lr_at(progress)
            for group in optimizer.param_groups:
                group["lr"] = lr
        n_rays = self.rays_per_batch
        batch = self.sampler.sample(n_rays)
        if self.space.name == "rgb":
            bg = background_colors(self.config.background, n_rays, 3, self.sampler.generator)
        else:  # latent images are already on the encoded background colour
            bg = self.background_value.cpu().expand(n_rays, -1)
        target = composite_on_background(batch.rgba, bg).to(self.device)
        bg = bg.to(self.device)
        rays = camera_rays(self.train_cameras, *(t.to(self.device) for t in (batch.camera_indices, batch.pixel_x, batch.pixel_y)), self.box_min, self.box_max)
        with autocast(self.device, self.precision):
            outputs = self.model(rays, bg)
            losses = self.model.loss_dict(outputs, target)
        losses = {k: v.float() for k, v in losses.items()}
        outputs["color"] = outputs["color"].float()
        if decoded_phase:
            losses["decoded"] = self.config.latent.loss_d_weight * self.decoded_loss()
        loss = sum(losses.values())
        if not torch.isfinite(loss):
            raise TrainingDivergedError(
                f"loss is {loss.item()} at step {self.step} (terms: "
                + ", ".join(f"{k}={v.item():.4g}" for k, v in losses.items())
                + f"); last checkpoint in {self.run_dir / 'checkpoints'}"
            )
        for optimizer in self.optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        for optimizer in self.optimizers.values():
            if has_gradients(optimizer):  # fp16 loss scaling refuses an optimiser that got no gradients
                self.scaler.step(optimizer)
        self.scaler.update()
        self.rays_seen += n_rays
        if method.samples_per_batch > 0 and "n_density_samples" in outputs:
            self.rays_per_batch = adapt_ray_count(n_rays, int(outputs["n_density_samples"]), method.samples_per_batch)
        with torch.no_grad():
            mse = torch.mean((outputs["color"] - target) ** 2)
        return {"loss": loss.item(), "psnr": psnr_from_mse(mse).item(), **{f"loss_{k}": v.item() for k, v in losses.items()}}

    # ---- evaluation ---------------------------------------------------------------------------
    def evaluate(self) -> dict[str, float]:
        """PSNR/SSIM on the first `eval_images` held-out views (in the run's space; decoded too in a latent
        space); logs the first view's render (or latent dashboard)."""
        scores: dict[str, list[float]] = {}
        for i in range(min(self.config.eval_images, len(self.eval_split))):
            if self.space.name == "rgb":
                pred, gt, p, q = score_view(self.model, self.eval_split, i, self.background_value, self.box_min, self.box_max, self.config.method.eval_chunk)
                values, figure = {"eval_psnr": p, "eval_ssim": q}, torch.cat([pred, gt], dim=1)
            else:
                score = score_latent_view(self.model, self.space, self.eval_split, self.rgb_scene.split("val"), i, self.background_value, self.rgb_background, self.box_min, self.box_max, self.config.method.eval_chunk)
                m = score.metrics
                values = {"eval_psnr": m["metrics_e"]["psnr"], "eval_ssim": m["metrics_e"]["ssim"], "eval_psnr_d": m["metrics_d"]["psnr"], "eval_ssim_d": m["metrics_d"]["ssim"]}
                figure = score.dashboard
            for key, value in values.items():
                scores.setdefault(key, []).append(value)
            if i == 0:
                self.logger.image("eval/render_vs_gt", figure, self.step)
        return {key: sum(v) / len(v) for key, v in scores.items()}

    # ---- loop ---------------------------------------------------------------------------------
    def train(self) -> Path:
        """Runs until max_steps or max_time; checkpoints periodically, at the end and on interrupt."""
        cfg = self.config
        max_steps = cfg.method.max_steps
        bar = tqdm(total=max_steps, initial=self.step, disable=not cfg.progress, mininterval=1.0, dynamic_ncols=True, file=sys.stderr)
        last_ckpt_time = time.perf_counter()
        pending_times = sorted(t for t in cfg.checkpoint_at_times if t > self.train_seconds)
        window_start, window_steps, window_rays = time.perf_counter(), 0, self.rays_seen
        with checkpoint_on_interrupt(self.save, bar):
            while self.step < max_steps and not (cfg.max_time and self.train_seconds >= cfg.max_time):
                t0 = time.perf_counter()
                scalars = self.train_step()
                self.step += 1
                self.train_seconds += time.perf_counter() - t0
                window_steps += 1
                bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == 1:
                    now = time.perf_counter()
                    steps_per_sec = window_steps / max(now - window_start, 1e-9)
                    rays_per_sec = (self.rays_seen - window_rays) / max(now - window_start, 1e-9)
                    window_start, window_steps, window_rays = now, 0, self.rays_seen
                    scalars.update(lr=self.optimizers[next(iter(self.optimizers))].param_groups[0]["lr"], steps_per_sec=steps_per_sec, rays_per_sec=rays_per_sec, rays_per_batch=float(self.rays_per_batch), train_seconds=self.train_seconds)
                    self.logger.scalars(self.step, scalars)
                    bar.set_postfix(loss=f"{scalars['loss']:.4f}", psnr=f"{scalars['psnr']:.2f}")
                if self.step % cfg.eval_every == 0:
                    self.logger.scalars(self.step, self.evaluate())
                if pending_times and self.train_seconds >= pending_times[0]:
                    pending_times = [t for t in pending_times if t > self.train_seconds]
                    self.save(keep_forever=True)
                    last_ckpt_time = time.perf_counter()
                elif self.step % cfg.checkpoint_every == 0 or time.perf_counter() - last_ckpt_time > cfg.checkpoint_every_seconds:
                    self.save()
                    last_ckpt_time = time.perf_counter()
        self.save()
        summary = {
            "method_name": cfg.method_name,
            "steps": self.step,
            "train_seconds": self.train_seconds,
            "rays_per_sec": self.rays_seen / max(self.train_seconds, 1e-9),
            "peak_memory_mb": peak_memory_mb(self.device),
            **self.evaluate(),
        }
        self.logger.scalars(self.step, {k: v for k, v in summary.items() if isinstance(v, float)})
        (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        self.logger.close()
        return self.run_dir


def has_gradients(optimizer: torch.optim.Optimizer) -> bool:
    """Whether any parameter of the optimiser received a gradient this step."""
    return any(p.grad is not None for group in optimizer.param_groups for p in group["params"])


def adapt_ray_count(n_rays: int, n_samples: int, target_samples: int) -> int:
    """Rays for the next step so that about `target_samples` samples reach the field (at most 4x change)."""
    per_ray = max(n_samples, 1) / max(n_rays, 1)
    wanted = target_samples / per_ray
    return int(min(max(wanted, n_rays / 4, 64), n_rays * 4, 1 << 18))
