"""One scene, one NeRF method: sample pixels, render, step the optimisers; evaluation and state for the engine."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from latent_atlas.backends import set_backend
from latent_atlas.cameras import Cameras, random_window
from latent_atlas.data.loading import load_scene
from latent_atlas.data.pixel_sampler import RAY_SAMPLERS, PixelBatch, PixelSampler
from latent_atlas.data.scene import SceneData, composite_on_background, spread_indices
from latent_atlas.engine.checkpoints import flatten_optimizer, restore_optimizer, tensors_under
from latent_atlas.engine.device import resolve_device
from latent_atlas.engine.optimizers import adam
from latent_atlas.engine.precision import autocast, decoder_autocast_dtype, grad_scaler, resolve_precision
from latent_atlas.engine.task import Task
from latent_atlas.errors import ConfigError, DataError
from latent_atlas.evaluation.metrics import psnr_from_mse
from latent_atlas.evaluation.render_views import camera_rays, render_full_view, render_image, score_rendered_view
from latent_atlas.losses import PixelLoss
from latent_atlas.losses.pixel import l2
from latent_atlas.methods.background_model import WithLearnedBackground
from latent_atlas.methods.base import Model, OptimizerConfig
from latent_atlas.methods.upsampling_model import WithNeuralUpsampling, block_centres
from latent_atlas.spaces.building import build_space, holds_colours, rgb_background
from latent_atlas.spaces.image_space import ImageSpace, ViewScore
from latent_atlas.tasks.scene_config import TrainConfig

AE_DECODER = "ae_decoder"
"""Optimiser name of a latent space's decoder while it is fine-tuned (not a model parameter group)."""


def build_model(config: TrainConfig, scene: SceneData, device: torch.device) -> Model:
    """The method's model for a scene (as many channels as its images), on `device`."""
    train = scene.split("train")
    upsampling = config.upsampling
    rendered = upsampling.features if upsampling.factor > 1 else train.channels  # channels the field renders
    model = config.method.model.setup(rendered, scene.box_min, scene.box_max, num_cameras=len(train))
    if config.background == "learned":
        model = WithLearnedBackground(model)
    if upsampling.factor > 1:
        model = WithNeuralUpsampling(model, train.channels, upsampling)
    return model.to(device)


def check_upsampling(config: TrainConfig, height: int, width: int) -> None:
    """ConfigError unless neural upsampling's factor, patches, background and image size fit together."""
    k = config.upsampling.factor
    if k == 1:
        return
    if k < 1 or k & (k - 1):
        raise ConfigError(f"--upsampling.factor {k}: must be a power of two")
    if config.latent.decoded_crop > 0:
        raise ConfigError("--latent.decoded-crop: a crop is rendered without neural upsampling; drop one of the two")
    if config.background == "random":
        raise ConfigError("--upsampling.factor: the CNN cannot see a random background per pixel; use --background white, black or learned")
    if config.method.sampler in RAY_SAMPLERS:
        raise ConfigError("--upsampling.factor: the CNN upsamples patches; add --sampler patches (or images)")
    if config.method.sampler == "patches" and config.method.patch_size % k:
        raise ConfigError(f"--patch-size {config.method.patch_size}: must be a multiple of --upsampling.factor {k}")
    if height % k or width % k:
        raise ConfigError(f"--upsampling.factor {k}: the images ({width}x{height}) must be multiples of it")


def map_into_space(space: ImageSpace, scene: SceneData, background: Tensor) -> SceneData:
    """The scene's splits in `space` (DataError naming the scene when its images do not fit)."""
    try:
        return space.map_scene(scene, background)
    except ValueError as exc:
        raise DataError(scene.source, str(exc)) from None


def load_model_state(model: Model, tensors: dict[str, Tensor]) -> None:
    """Loads the `model.*` tensors of a checkpoint, resizing grids that grew during training."""
    state = tensors_under(tensors, "model.")
    model.resize_to_state_dict(state)
    model.load_state_dict(state)


def open_scene(config: TrainConfig, device: torch.device) -> tuple[ImageSpace, SceneData, Tensor, SceneData]:
    """(space, the scene in RGB, the RGB background [3], the scene in the space) of a run's config."""
    if config.data is None:
        raise ConfigError("--data is required (a scene folder)")
    space = build_space(config.space, device, config.ae, cache_dir=config.latent.cache_dir, encode_batch=config.latent.encode_batch)
    rgb_scene = load_scene(config.data, config.data_format, config.auto_scale_poses)
    background = rgb_background(config.background)
    return space, rgb_scene, background, map_into_space(space, rgb_scene, background)


def held_out_views(count: int, share: float) -> list[int]:
    """round(share * count) of `count` view indices, evenly spaced; at least one view stays fitted."""
    held_out = round(share * count)
    if held_out <= 0:
        return []
    if held_out >= count:
        raise ConfigError(f"--latent.held-out-share {share}: holds out all {count} training views")
    return sorted({int(i * count / held_out + count / (2 * held_out)) for i in range(held_out)})


class SceneTask(Task):
    """Trains one scene with a method of the registry (in any image space). `train()` returns the run folder."""

    name = "scene"

    def __init__(self, config: TrainConfig):
        self.config = config
        self.device = resolve_device(config.device)
        self.precision = resolve_precision(config.mixed_precision, self.device, config.method.bf16_on_cuda)  # autocast dtype or None
        self.scaler = grad_scaler(self.device, self.precision)
        self.decoder_dtype = decoder_autocast_dtype(config.latent.decoder_precision, self.device, "--latent.decoder-precision")  # the decoded phase's decoder
        try:
            set_backend(config.backend)
        except ValueError as exc:
            raise ConfigError(f"--backend: {exc}") from None
        method = config.method
        self.pixel_loss = PixelLoss(method.losses, method.loss_colour_space, method.loss_tone_map, method.loss_gamma)
        if self.pixel_loss.needs_patches and config.method.sampler in RAY_SAMPLERS:
            raise ConfigError(f"--losses {' '.join(config.method.losses)}: ssim and fft compare patches; add --sampler patches (or images)")
        if self.pixel_loss.transforms_colours and not holds_colours(config.space):
            raise ConfigError("--loss-colour-space/--loss-tone-map apply to RGB images; a latent space's loss compares latents")
        self.space, self.rgb_scene, self.rgb_background, self.scene = open_scene(config, self.device)
        self.background_value = self.space.background_value(self.rgb_background).to(self.device)  # [C]
        self.train_split = self.scene.split("train")
        self.eval_split = self.scene.split("val")
        if self.train_split.dynamic and not config.method.model.uses_time:
            print(f"latlas: warning: {config.data} is a dynamic scene (frames carry a time); {config.method_name} is static and ignores it", file=sys.stderr)
        check_upsampling(config, self.train_split.height, self.train_split.width)
        torch.manual_seed(config.seed)
        self.model = build_model(config, self.scene, self.device)
        self.model.configure_for_space(self.space.background_value(torch.zeros(3)).to(self.device), self.space.colour_values)
        latent = config.latent
        tunes_decoder = bool(self.space.parameters("decoder")) and latent.finetune_decoder and latent.loss_d_weight > 0 and latent.decoder_start < 1
        self.tuned_decoder_part = "decoder-head" if latent.decoder_part == "head" else "decoder"  # what the decoded phase trains
        if latent.loss_d_weight > 0 and not latent.finetune_decoder and not latent.decoded_field_gradient:
            raise ConfigError("--latent.no-finetune-decoder with --latent.no-decoded-field-gradient: the decoded loss would train nothing")
        if tunes_decoder:
            try:
                self.space.parameters(self.tuned_decoder_part)
            except ValueError as exc:
                raise ConfigError(f"--latent.decoder-part {latent.decoder_part}: {exc}") from None
        self.held_out_views = held_out_views(len(self.train_split), latent.held_out_share if tunes_decoder else 0.0)  # for the decoder only
        held = set(self.held_out_views)
        self.fitted_views = [i for i in range(len(self.train_split)) if i not in held]
        self.sampler = PixelSampler(self.train_split, config.seed, config.method.sampler, config.method.patch_size, torch.tensor(self.fitted_views))
        self.channel_scale = self._channel_scale()  # [C] square roots of the latent loss's channel weights, or None
        self.decoded_baseline = 0.0  # set by decoded_loss: its view's best-constant error
        self.box_min, self.box_max = self.scene.box_min.to(self.device), self.scene.box_max.to(self.device)
        self.train_cameras = self.train_split.cameras.to(self.device)
        self.rays_per_batch = config.method.rays_per_batch  # adapts when method.samples_per_batch is set
        self.rays_seen = 0
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.optimizers = self._make_optimizers()
        self.open_run()

    # ---- what the engine asks ---------------------------------------------------------------------
    @property
    def total_steps(self) -> int:
        return self.config.method.max_steps

    def default_experiment(self) -> str:
        return self.config.data.name if self.config.data else "experiment"

    def kind(self) -> str:
        return self.config.method_name

    def random_generators(self) -> dict[str, torch.Generator]:
        return {"sampler": self.sampler.generator}

    def throughput(self) -> dict[str, int]:
        return {"rays": self.rays_seen}

    # ---- optimisers -------------------------------------------------------------------------------
    def optimizer_config(self, group: str) -> OptimizerConfig:
        """The Adam schedule of a parameter group: the method's, else the model's default for parts added around it."""
        if group in self.config.method.optimizers:
            return self.config.method.optimizers[group]
        return self.model.default_optimizers()[group]

    def _make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Adam/AdamW per model parameter group (a decoder being fine-tuned keeps its own optimiser)."""
        groups = self.model.param_groups()
        missing = set(groups) - set(self.config.method.optimizers) - set(self.model.default_optimizers())
        if missing:
            raise ConfigError(f"method has parameter groups without an optimiser: {sorted(missing)}")
        optimizers = {}
        for name, params in groups.items():
            if not params:
                continue
            opt = self.optimizer_config(name)
            optimizers[name] = opt.build(params)
        if AE_DECODER in self.optimizers:
            optimizers[AE_DECODER] = self.optimizers[AE_DECODER]
        return optimizers

    def _channel_scale(self) -> Tensor | None:
        """Square roots [C] of the latent loss's channel weights (--latent.channel-weights decoder), else None."""
        latent = self.config.latent
        if latent.channel_weights == "uniform" or not self.space.parameters("decoder"):
            return None
        values = self.train_split.rgba(torch.tensor(spread_indices(len(self.train_split), 4)))[..., : self.space.channels]
        return self.space.loss_channel_scale(values, latent.channel_weight_floor, self.config.seed).to(self.device)

    # ---- the decoded phase (spaces with a decoder: latent-nerfstudio's schedule) ---------------------
    def in_decoded_phase(self, progress: float) -> bool:
        """Whether the decoded-RGB loss is on: the space has a decoder, past latent.decoder_start."""
        latent = self.config.latent
        return latent.loss_d_weight > 0 and progress >= latent.decoder_start and bool(self.space.parameters("decoder"))

    def _start_decoder_finetuning(self) -> None:
        """Unfreezes the decoder (or its head: --latent.decoder-part) and gives it an Adam optimiser (once)."""
        if AE_DECODER in self.optimizers or not self.config.latent.finetune_decoder:
            return
        params = list(self.space.parameters(self.tuned_decoder_part).values())
        for p in params:
            p.requires_grad_(True)
        self.optimizers[AE_DECODER] = adam(params, lr=self.config.latent.decoder_lr)

    def decoder_lr(self, progress: float) -> float:
        """Exponential decay from decoder_lr at the phase start to decoder_lr_final at the end of the run."""
        latent = self.config.latent
        phase = (progress - latent.decoder_start) / max(1.0 - latent.decoder_start, 1e-9)
        return OptimizerConfig(lr=latent.decoder_lr, lr_final=latent.decoder_lr_final).lr_at(phase)

    def decoded_loss(self, held_out: bool = False) -> Tensor:
        """|D(render) - image|^2 on one random training view rendered in full, or on a random square of it
        (--latent.decoded-crop) (latent-nerfstudio's loss_d); held_out: one of the views the field never fits, its
        render detached (the loss trains the decoder only). Sets decoded_baseline: the same error of the view's best
        constant colour (for the collapse guard)."""
        latent, generator = self.config.latent, self.sampler.generator
        views = self.held_out_views if held_out else self.fitted_views
        index = views[int(torch.randint(len(views), (1,), generator=generator))]
        metadata = {k: v[index] for k, v in self.train_split.metadata.items()}
        h, w = self.train_split.height, self.train_split.width
        crop = latent.decoded_crop
        window = random_window(generator, w, h, crop) if 0 < crop < max(h, w) else None
        field_learns = latent.decoded_field_gradient and not held_out
        with torch.set_grad_enabled(field_learns):
            render = render_full_view(
                self.model, self.train_cameras, index, self.background_value, self.box_min, self.box_max, self.config.method.eval_chunk, True, metadata, window
            )["color"]
        trunk_gradients = field_learns or self.tuned_decoder_part == "decoder"  # else only the head needs autograd
        with autocast(self.device, self.decoder_dtype):
            decoded = self.space.decode(render[None], trunk_gradients)[0].float()
        target = composite_on_background(self.rgb_scene.split("train").rgba(index), self.rgb_background).to(decoded.device)
        if window is not None:  # a latent pixel covers f x f image pixels
            x0, y0, cw, ch = window
            f = target.shape[0] // h
            target = target[y0 * f : (y0 + ch) * f, x0 * f : (x0 + cw) * f]
        self.decoded_baseline = float(torch.mean((target - target.mean(dim=(0, 1))) ** 2))
        return l2(decoded, target)

    # ---- state ------------------------------------------------------------------------------------
    def checkpoint_state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        optim_meta = {}
        for name, optimizer in self.optimizers.items():
            flat, meta = flatten_optimizer(f"optim.{name}", optimizer)
            tensors.update(flat)
            optim_meta[name] = meta
        if AE_DECODER in self.optimizers:  # fine-tuned decoder weights travel with the checkpoint
            tensors.update({f"space.{k}": v for k, v in self.space.parameters("decoder").items()})
        if self.sampler.error_map.numel():
            tensors["sampler.error_map"] = self.sampler.error_map.clone()
        state = {
            "optimizers": optim_meta,
            "method_name": self.config.method_name,
            "rays_per_batch": self.rays_per_batch,
            "rays_seen": self.rays_seen,
            "grad_scaler": self.scaler.state_dict(),
        }
        return tensors, state

    def load_checkpoint_state(self, tensors: dict[str, Tensor], state: dict[str, Any]) -> None:
        """Model first (its grids may have been resized), then optimisers."""
        load_model_state(self.model, tensors)
        self.optimizers = self._make_optimizers()
        if AE_DECODER in state["optimizers"]:
            self.space.load_tensors(tensors_under(tensors, "space."))  # the fine-tuned decoder
            self._start_decoder_finetuning()
        for name, optimizer in self.optimizers.items():
            restore_optimizer(f"optim.{name}", optimizer, tensors, state["optimizers"][name])
        if "sampler.error_map" in tensors and tensors["sampler.error_map"].shape == self.sampler.error_map.shape:
            self.sampler.error_map.copy_(tensors["sampler.error_map"])
        self.rays_per_batch = int(state.get("rays_per_batch", self.rays_per_batch))
        self.rays_seen = int(state.get("rays_seen", int(state["step"]) * self.rays_per_batch))
        if state.get("grad_scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["grad_scaler"])

    # ---- one step ---------------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        """One optimisation step on a random pixel batch; returns the logged scalars."""
        method = self.config.method
        progress = self.progress()
        if self.model.before_step(self.step, progress):
            self.optimizers = self._make_optimizers()
        decoded_phase = self.in_decoded_phase(progress)
        if decoded_phase:
            self._start_decoder_finetuning()
        for name, optimizer in self.optimizers.items():
            lr = self.decoder_lr(progress) if name == AE_DECODER else self.optimizer_config(name).lr_at(progress)
            for group in optimizer.param_groups:
                group["lr"] = lr * self.lr_scale
        batch = self.sampler.sample(self.rays_per_batch, method.crop_fraction if self.step < method.crop_steps else 1.0)
        n_rays = len(batch.camera_indices)
        bg = self.space.ray_backgrounds(self.config.background, n_rays, self.background_value, self.sampler.generator)
        target = composite_on_background(batch.rgba, bg).to(self.device)
        bg = bg.to(self.device)

        def pixel_loss(prediction: Tensor, goal: Tensor, prefix: str = "color") -> dict[str, Tensor]:
            if self.channel_scale is not None and prediction.shape[-1] == len(self.channel_scale):
                prediction, goal = prediction * self.channel_scale, goal * self.channel_scale
            return self.pixel_loss(prediction, goal, prefix, batch.patch)

        with autocast(self.device, self.precision):
            outputs = self._render_batch(batch, bg)
            losses = self.model.loss_dict(outputs, target, pixel_loss)
        losses = {k: v.float() for k, v in losses.items()}
        outputs["color"] = outputs["color"].float()
        if decoded_phase:
            held_out = bool(self.held_out_views) and self.step % 2 == 1  # every other step: a view the field never saw
            decoded_mse = self.decoded_loss(held_out)
            losses["decoded"] = self.config.latent.loss_d_weight * decoded_mse
        loss = sum(losses.values())
        scalars = {"loss": loss.item(), **{f"loss_{k}": v.item() for k, v in losses.items()}}
        if not torch.isfinite(loss):
            return scalars  # the engine reports the divergence; no step is taken with it
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
            squared = (outputs["color"] - target) ** 2  # [n_rays, C]
            weighted = squared if self.channel_scale is None else squared * self.channel_scale**2
            self.sampler.record_errors(batch, weighted.mean(dim=-1))  # rays drawn where the loss is high
            mse = squared.mean()
            trivial = min(torch.mean((target - target.mean(0)) ** 2), torch.mean((target - bg) ** 2))  # a constant; an empty scene
        # for the engine's collapse guard: in the decoded phase the latents drift from the encoder's (loss_d leads, the
        # channel weights let unread channels go), so the decoded view is the fit, as in many-scene runs
        fit = (decoded_mse.item(), self.decoded_baseline) if decoded_phase else (mse.item(), trivial.item())
        return {
            **scalars,
            "psnr": psnr_from_mse(mse).item(),
            "fit_mse": fit[0],
            "baseline_mse": fit[1],
            "rays_per_batch": float(self.rays_per_batch),
            "lr": self.optimizers[next(iter(self.optimizers))].param_groups[0]["lr"],
        }

    def _render_batch(self, batch: PixelBatch, background: Tensor) -> dict[str, Tensor]:
        """The model's outputs for a training batch: a ray per pixel, or (neural upsampling) a ray per k x k block
        of each patch, upsampled by the CNN."""
        k = self.config.upsampling.factor
        if k == 1:
            rays = camera_rays(
                self.train_cameras, *(t.to(self.device) for t in (batch.camera_indices, batch.pixel_x, batch.pixel_y)), self.box_min, self.box_max
            )
            rays.metadata = {name: v.to(self.device) for name, v in batch.metadata.items()}
            return self.model(rays, background)
        ph, pw = batch.patch
        first = slice(None, None, ph * pw)  # each patch's top-left pixel
        cams = batch.camera_indices[first]
        x, y = block_centres(batch.pixel_x[first], batch.pixel_y[first], pw, ph, k)
        block_cams = cams.repeat_interleave((ph // k) * (pw // k))
        rays = camera_rays(self.train_cameras, block_cams.to(self.device), x.to(self.device), y.to(self.device), self.box_min, self.box_max)
        rays.radii = rays.radii * k
        rays.metadata = {name: v.to(self.device) for name, v in self.train_split.frame_metadata(block_cams).items()}
        return self.model.render_blocks(rays, self.background_value, (len(cams), ph // k, pw // k))

    # ---- the viewer ----------------------------------------------------------------------------------
    def view_scenes(self) -> list[tuple[str, Cameras]]:
        """(name, training cameras) of the scene, for the viewer."""
        return [(Path(self.config.data).name, self.scene.split("train").cameras)]

    def view_renderer(self):
        """(scene index, one camera, metadata) -> render of the model as it is now (the viewer's)."""
        return lambda scene, camera, metadata=None: render_image(
            self.model, camera, 0, self.background_value, self.box_min, self.box_max, self.config.method.eval_chunk, metadata
        )

    def view_dynamic(self) -> bool:
        """Whether the viewer shows a time slider (the model reads time)."""
        return self.config.method.model.uses_time

    # ---- evaluation -------------------------------------------------------------------------------
    def score_view(self, split_name: str, index: int) -> ViewScore:
        """The space's score of held-out view `index` of a split."""
        split = self.scene.split(split_name)
        metadata = {k: v[index] for k, v in split.metadata.items()}
        render = render_image(self.model, split.cameras, index, self.background_value, self.box_min, self.box_max, self.config.method.eval_chunk, metadata)[
            "color"
        ]
        return score_rendered_view(self.space, render, split, self.rgb_scene.split(split_name), index, self.background_value, self.rgb_background)

    def evaluate(self) -> dict[str, float]:
        """PSNR/SSIM of the first `eval_images` held-out views: eval_psnr/eval_ssim in the run's space, and the
        other metric groups of the space (eval_psnr_d: decoded, ...); logs the first view's dashboard."""
        scores: dict[str, list[float]] = {}
        for i in range(min(self.config.eval_images, len(self.eval_split))):
            score = self.score_view("val", i)
            flat = score.flat()
            values = {"eval_psnr": flat.pop("psnr_e"), "eval_ssim": flat.pop("ssim_e"), **{f"eval_{k}": v for k, v in flat.items()}}
            for key, value in values.items():
                scores.setdefault(key, []).append(value)
            if i == 0 and self.logger is not None:
                self.logger.image("eval/render_vs_gt", score.figure, self.step)
        return {key: sum(v) / len(v) for key, v in scores.items()}

    def summary(self) -> dict[str, Any]:
        return {
            "method_name": self.config.method_name,
            "space": self.space.name,
            "rays_per_sec": self.rays_seen / max(self.train_seconds, 1e-9),
            **self.evaluate(),
        }


def has_gradients(optimizer: torch.optim.Optimizer) -> bool:
    """Whether any parameter of the optimiser received a gradient this step."""
    return any(p.grad is not None for group in optimizer.param_groups for p in group["params"])


def adapt_ray_count(n_rays: int, n_samples: int, target_samples: int) -> int:
    """Rays for the next step so that about `target_samples` samples reach the field (at most 4x change)."""
    per_ray = max(n_samples, 1) / max(n_rays, 1)
    wanted = target_samples / per_ray
    return int(min(max(wanted, n_rays / 4, 64), n_rays * 4, 1 << 18))
