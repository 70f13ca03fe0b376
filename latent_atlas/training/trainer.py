"""The training loop: sample rays, render, step the optimisers, log, evaluate, checkpoint, resume."""

from __future__ import annotations

import json
import resource
import signal
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from latent_atlas.data.loading import load_scene
from latent_atlas.data.pixel_sampler import PixelSampler
from latent_atlas.data.scene import SceneData, composite_on_background
from latent_atlas.errors import ConfigError, TrainingDivergedError
from latent_atlas.methods.base import Model
from latent_atlas.rendering.backgrounds import BACKGROUNDS, background_colors, eval_background
from latent_atlas.training.checkpoints import flatten_optimizer, latest_checkpoint, load_checkpoint, restore_optimizer, save_checkpoint
from latent_atlas.training.config import TrainConfig
from latent_atlas.training.logger import RunLogger
from latent_atlas.training.metrics import psnr_from_mse
from latent_atlas.training.render_views import camera_rays, score_view
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


def build_model(config: TrainConfig, scene: SceneData, device: torch.device) -> Model:
    """The method's model for a scene, on `device`."""
    return config.method.model.setup(3, scene.box_min, scene.box_max, num_cameras=len(scene.split("train"))).to(device)


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
        self.scene = load_scene(config.data, config.data_format, config.auto_scale_poses)
        self.train_split = self.scene.split("train")
        self.eval_split = self.scene.split("val")
        torch.manual_seed(config.seed)
        self.model = build_model(config, self.scene, self.device)
        self.sampler = PixelSampler(self.train_split, config.seed)
        self.box_min, self.box_max = self.scene.box_min.to(self.device), self.scene.box_max.to(self.device)
        self.train_cameras = self.train_split.cameras.to(self.device)
        self.step = 0
        self.train_seconds = 0.0
        if config.resume is not None:
            self.run_dir = Path(config.resume)
            self._restore()
        else:
            self.run_dir = run_dir or new_run_dir(config)
            self.optimizers = self._make_optimizers()
        save_config(self.run_dir, config)
        self.logger = RunLogger(self.run_dir)

    # ---- set-up -------------------------------------------------------------------------------
    def _make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
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
        return optimizers

    # ---- checkpoints --------------------------------------------------------------------------
    def save(self, keep_forever: bool = False) -> Path:
        """Writes a checkpoint of everything needed to continue exactly (`keep_forever`: never pruned)."""
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        optim_meta = {}
        for name, optimizer in self.optimizers.items():
            flat, meta = flatten_optimizer(f"optim.{name}", optimizer)
            tensors.update(flat)
            optim_meta[name] = meta
        tensors["rng.torch"] = torch.get_rng_state()
        tensors["rng.sampler"] = self.sampler.generator.get_state()
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        state = {"train_seconds": self.train_seconds, "optimizers": optim_meta, "method_name": self.config.method_name}
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
        for name, optimizer in self.optimizers.items():
            restore_optimizer(f"optim.{name}", optimizer, tensors, state["optimizers"][name])
        torch.set_rng_state(tensors["rng.torch"])
        self.sampler.generator.set_state(tensors["rng.sampler"])
        if "rng.cuda" in tensors and self.device.type == "cuda":
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        self.step = int(state["step"])
        self.train_seconds = float(state["train_seconds"])

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
        for name, optimizer in self.optimizers.items():
            for group in optimizer.param_groups:
                group["lr"] = method.optimizers[name].lr_at(progress)
        batch = self.sampler.sample(method.rays_per_batch)
        bg = background_colors(self.config.background, method.rays_per_batch, 3, self.sampler.generator)
        target = composite_on_background(batch.rgba, bg).to(self.device)
        bg = bg.to(self.device)
        rays = camera_rays(self.train_cameras, *(t.to(self.device) for t in (batch.camera_indices, batch.pixel_x, batch.pixel_y)), self.box_min, self.box_max)
        outputs = self.model(rays, bg)
        losses = self.model.loss_dict(outputs, target)
        loss = sum(losses.values())
        if not torch.isfinite(loss):
            raise TrainingDivergedError(
                f"loss is {loss.item()} at step {self.step} (terms: "
                + ", ".join(f"{k}={v.item():.4g}" for k, v in losses.items())
                + f"); last checkpoint in {self.run_dir / 'checkpoints'}"
            )
        for optimizer in self.optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for optimizer in self.optimizers.values():
            optimizer.step()
        with torch.no_grad():
            mse = torch.mean((outputs["color"] - target) ** 2)
        return {"loss": loss.item(), "psnr": psnr_from_mse(mse).item(), **{f"loss_{k}": v.item() for k, v in losses.items()}}

    # ---- evaluation ---------------------------------------------------------------------------
    def evaluate(self) -> dict[str, float]:
        """PSNR/SSIM on the first `eval_images` held-out views; logs one image."""
        bg_mode = eval_background(self.config.background)
        psnrs, ssims = [], []
        for i in range(min(self.config.eval_images, len(self.eval_split))):
            pred, gt, p, q = score_view(self.model, self.eval_split, i, bg_mode, self.box_min, self.box_max, self.config.method.eval_chunk)
            psnrs.append(p)
            ssims.append(q)
            if i == 0:
                self.logger.image("eval/render_vs_gt", torch.cat([pred, gt], dim=1), self.step)
        return {"eval_psnr": sum(psnrs) / len(psnrs), "eval_ssim": sum(ssims) / len(ssims)}

    # ---- loop ---------------------------------------------------------------------------------
    def train(self) -> Path:
        """Runs until max_steps or max_time; checkpoints periodically, at the end and on interrupt."""
        cfg = self.config
        max_steps = cfg.method.max_steps
        bar = tqdm(total=max_steps, initial=self.step, disable=not cfg.progress, mininterval=1.0, dynamic_ncols=True, file=sys.stderr)
        last_ckpt_time = time.perf_counter()
        pending_times = sorted(t for t in cfg.checkpoint_at_times if t > self.train_seconds)
        window_start, window_steps = time.perf_counter(), 0
        previous_handler = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt) if _is_main_thread() else None
        try:
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
                    window_start, window_steps = now, 0
                    scalars.update(lr=self.optimizers[next(iter(self.optimizers))].param_groups[0]["lr"], steps_per_sec=steps_per_sec, rays_per_sec=steps_per_sec * cfg.method.rays_per_batch, train_seconds=self.train_seconds)
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
        except KeyboardInterrupt:
            self.save()
            bar.close()
            raise
        finally:
            if previous_handler is not None:
                signal.signal(signal.SIGTERM, previous_handler)
        bar.close()
        self.save()
        summary = {
            "method_name": cfg.method_name,
            "steps": self.step,
            "train_seconds": self.train_seconds,
            "rays_per_sec": self.step * cfg.method.rays_per_batch / max(self.train_seconds, 1e-9),
            "peak_memory_mb": peak_memory_mb(self.device),
            **self.evaluate(),
        }
        self.logger.scalars(self.step, {k: v for k, v in summary.items() if isinstance(v, float)})
        (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        self.logger.close()
        return self.run_dir


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
