"""Training many Tri-Plane scenes at once, in RGB or latent space, through a list of phases.

One step: B scenes, one random training view each, rendered together (one batched
plane lookup per sample set) and compared with the view's image or latent image. The
losses and what trains are given per phase (IG-AE, Scaled-IG stage 1 / 2 are presets).
"""

from __future__ import annotations

import json
import math
import resource
import sys
import time
from pathlib import Path

import torch
from torch import Tensor
from tqdm import tqdm

from latent_atlas.cameras import RayBundle
from latent_atlas.config_io import save_json_atomic, to_jsonable
from latent_atlas.data.scene import composite_on_background
from latent_atlas.data.scene_set import load_scene_set, scene_folders
from latent_atlas.errors import ConfigError, DataError, TrainingDivergedError
from latent_atlas.fields.multi_triplane import MicroMacroTable, MultiSceneTriPlaneField, PlaneTable
from latent_atlas.fields.triplane_field import plane_tv
from latent_atlas.rendering.backgrounds import background_colors
from latent_atlas.rendering.field_rendering import render_coarse_to_fine
from latent_atlas.scaled.config import MultiSceneConfig, PhaseConfig
from latent_atlas.scaled.distributed import all_reduce_int, average_gradients, gather_objects, init_from_env, rank_slice
from latent_atlas.scaled.row_adam import RowAdam
from latent_atlas.spaces.ae_loading import load_autoencoder, save_pretrained
from latent_atlas.spaces.autoencoder_kl import AutoencoderKL
from latent_atlas.spaces.image_space import ImageSpace, LatentSpace
from latent_atlas.spaces.latent_cache import LatentCache
from latent_atlas.spaces.normalization import denormalize_latent, normalize_latent
from latent_atlas.spaces.presets import preset_config
from latent_atlas.training.checkpoints import checkpoint_name, flatten_optimizer, latest_checkpoint, load_checkpoint, restore_optimizer, save_checkpoint
from latent_atlas.training.logger import RunLogger
from latent_atlas.training.metrics import psnr, ssim
from latent_atlas.training.render_views import camera_rays
from latent_atlas.training.saved_activations import SavedActivationMeter
from latent_atlas.training.interrupts import checkpoint_on_interrupt
from latent_atlas.training.trainer import resolve_device


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class MultiSceneTrainer:
    """Trains a scene set; `train()` returns the run folder (with autoencoder/ when the autoencoder trained)."""

    def __init__(self, config: MultiSceneConfig):
        cfg = self.config = config
        if not cfg.data:
            raise ConfigError("--data is required (a family folder, folders of scenes or scene folders)")
        if cfg.rays_per_view > 0 and any(p.loss_d > 0 for p in cfg.phases):
            raise ConfigError("loss_d decodes whole images: use --rays-per-view 0 with it")
        if cfg.parallel not in ("data", "scenes"):
            raise ConfigError(f"--parallel {cfg.parallel}: choose data or scenes")
        self.device = resolve_device(cfg.device)
        self.rank, self.world_size = init_from_env(self.device)
        self.sharded = cfg.parallel == "scenes" and self.world_size > 1  # this rank owns a shard of the scenes
        torch.manual_seed(cfg.seed)
        self.generator = torch.Generator().manual_seed(cfg.seed + (7919 * self.rank if self.sharded else 0))
        first, count, self.total_scenes = self._scene_range()
        self.rgb_set = load_scene_set(cfg.data, first, count)
        self.rgb_background = background_colors(cfg.background, 1, 3)[0]
        self.space = self._build_space()
        init_tensors = self._init_tensors()
        if init_tensors and isinstance(self.space, LatentSpace):
            self._load_prefixed(self.space.autoencoder, init_tensors, "ae.")
        self.scenes = []
        for scene in self.rgb_set.scenes:
            try:
                self.scenes.append(self.space.map_scene(scene, self.rgb_background))
            except ValueError as exc:
                raise DataError(scene.source, str(exc)) from None
        sizes = {tuple(s.split("train").images.shape[1:3]) for s in self.scenes}
        if len(sizes) != 1:
            raise DataError(cfg.data[0], f"scenes have different image sizes {sorted(sizes)}; a batch needs one size")
        self.background_value = self.space.background_value(self.rgb_background).to(self.device)
        n = len(self.scenes)
        r = cfg.field.plane_resolution
        if cfg.planes not in ("independent", "micro-macro"):
            raise ConfigError(f"--planes {cfg.planes}: choose independent or micro-macro")
        table = PlaneTable(n, cfg.field.plane_channels, r, cfg.field.init_std) if cfg.planes == "independent" else MicroMacroTable(n, cfg.micro_macro, r)
        table.sparse_grad = cfg.scene_optimizer == "row-adam"  # RowAdam reads the rows from the gradient: no O(N) dense gradient
        self.field = MultiSceneTriPlaneField(table, cfg.field, self.space.channels).to(self.device)
        if init_tensors:
            self._load_shared(init_tensors)
        # equal on every rank: the ranks of a sharded run take the same number of steps (and collectives)
        self.batch_size = min(cfg.scenes_per_batch, all_reduce_int(n, "min") if self.sharded else n)
        views = sum(len(s.split("train")) for s in self.scenes)
        views, per_step = (all_reduce_int(views), self.batch_size * self.world_size) if self.sharded else (views, self.batch_size)
        self.phase_steps = [max(1, math.ceil(p.epochs * views / per_step)) for p in cfg.phases]
        self.total_steps = sum(self.phase_steps)
        self.groups = self._groups()  # parameters never change identity here: collected once
        self.optimizers = self._make_optimizers()
        self.step, self.train_seconds = 0, 0.0
        self.saved_activation_mb = 0.0  # the most any measured step saved for backward, per scene it rendered
        self._rendered_scenes = 0  # scenes this rank rendered in the last step
        self._measured_phases: set[int] = set()  # phases whose first step (in this process) was measured
        self._rng_at_step_start: tuple[Tensor, Tensor] | None = None  # set while a step runs
        if cfg.resume is not None:
            self.run_dir = Path(cfg.resume)
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._restore()
        else:
            stamp = self._shared_timestamp()
            experiment = cfg.experiment_name or Path(cfg.data[0]).name
            self.run_dir = cfg.output_dir / experiment / cfg.kind / stamp
            self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.rank == 0:
            save_json_atomic(self.run_dir / "config.json", to_jsonable(cfg))
        self.logger = RunLogger(self.run_dir)

    # ---- set-up -------------------------------------------------------------------------------
    def _scene_range(self) -> tuple[int, int | None, int]:
        """(first scene, count, total scenes of the run) that this rank loads: its shard when sharded."""
        cfg = self.config
        if not self.sharded:
            return cfg.first_scene, cfg.num_scenes, -1
        folders = scene_folders(cfg.data)[cfg.first_scene : None if cfg.num_scenes is None else cfg.first_scene + cfg.num_scenes]
        part = rank_slice(len(folders), self.rank, self.world_size)
        if part.stop <= part.start:
            raise ConfigError(f"--parallel scenes: {len(folders)} scenes cannot be shared by {self.world_size} ranks")
        return cfg.first_scene + part.start, part.stop - part.start, len(folders)

    def _shared_timestamp(self) -> str:
        """Rank 0's timestamp, so that every rank writes to (and resumes from) the same run folder."""
        stamp = time.strftime("%Y-%m-%d_%H%M%S")
        if self.world_size == 1:
            return stamp
        import torch.distributed as dist

        holder = [stamp]
        dist.broadcast_object_list(holder, src=0)
        return holder[0]

    def _build_space(self) -> ImageSpace:
        cfg = self.config
        if cfg.space == "rgb":
            return ImageSpace()
        if cfg.space != "latent":
            raise ConfigError(f"--space {cfg.space}: choose rgb or latent")
        if cfg.ae:
            ae = load_autoencoder(cfg.ae)
        elif cfg.ae_preset:
            ae = AutoencoderKL(preset_config(cfg.ae_preset))
        elif cfg.init is None:
            raise ConfigError("--space latent needs --ae, --ae-preset or --init")
        else:
            ae = AutoencoderKL(self._init_ae_config())
        return LatentSpace(ae.to(self.device).requires_grad_(False), LatentCache())

    def _init_checkpoint(self) -> Path | None:
        if self.config.init is None:
            return None
        path = latest_checkpoint(Path(self.config.init) / "checkpoints")
        if path is None:
            raise DataError(self.config.init, "no complete checkpoint to initialise from")
        return path

    def _init_ae_config(self):
        from latent_atlas.spaces.autoencoder_kl import AutoencoderKLConfig

        folder = Path(self.config.init) / "autoencoder"
        if not (folder / "config.json").is_file():
            raise DataError(self.config.init, "has no autoencoder/ to start from; pass --ae")
        return AutoencoderKLConfig.from_diffusers_config(json.loads((folder / "config.json").read_text()))

    def _init_tensors(self) -> dict[str, Tensor]:
        path = self._init_checkpoint()
        return load_checkpoint(path)[0] if path is not None else {}

    @staticmethod
    def _load_prefixed(module: torch.nn.Module, tensors: dict[str, Tensor], prefix: str) -> None:
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        if state:
            module.load_state_dict(state)

    def _load_shared(self, tensors: dict[str, Tensor]) -> None:
        """Shared parts of an --init run: the decoder MLP (unless re-initialised) and the macro planes."""
        if not self.config.reinit_decoder_mlp:
            self._load_prefixed(self.field.decoder, tensors, "field.decoder.")
        if isinstance(self.field.table, MicroMacroTable) and "field.table.macro" in tensors:
            with torch.no_grad():
                self.field.table.macro.copy_(tensors["field.table.macro"])

    def _groups(self) -> dict[str, list[torch.nn.Parameter]]:
        table = self.field.table
        groups = {"scenes": [table.scene_parameters()[0]], "shared": list(self.field.decoder.parameters())}
        if isinstance(table, MicroMacroTable):
            groups["coefficients"] = [table.coefficients, table.bias]
            groups["macro"] = [table.macro]
        if isinstance(self.space, LatentSpace):
            ae = self.space.autoencoder
            groups["encoder"] = list(ae.encoder_parameters().values())
            groups["decoder"] = list(ae.decoder_parameters().values())
        return groups

    LOCAL_GROUPS = ("scenes", "coefficients")
    """Parameter groups that belong to scenes (a rank's shard in a scenes-parallel run); the rest are shared."""

    def _scene_state_names(self) -> set[str]:
        """field.state_dict() names of the per-scene tensors."""
        local = {id(p) for name in self.LOCAL_GROUPS for p in self.groups.get(name, [])}
        return {name for name, p in self.field.named_parameters() if id(p) in local}

    def _shared_parameters(self) -> list[torch.nn.Parameter]:
        """Parameters whose gradients are averaged over the ranks of a scenes-parallel run."""
        return [p for name, params in self.groups.items() if name not in self.LOCAL_GROUPS for p in params]

    def _schedule(self, name: str):
        cfg = self.config
        return {"scenes": cfg.scene_lr, "coefficients": cfg.coefficient_lr, "shared": cfg.shared_lr, "macro": cfg.shared_lr, "encoder": cfg.ae_lr, "decoder": cfg.ae_lr}[name]

    def _make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        row_wise = self.config.scene_optimizer == "row-adam"
        return {name: (RowAdam if row_wise and name in self.LOCAL_GROUPS else torch.optim.Adam)(params, lr=self._schedule(name).lr)
                for name, params in self.groups.items()}

    def _trains(self, phase: PhaseConfig) -> dict[str, bool]:
        return {"scenes": phase.train_scenes, "coefficients": phase.train_scenes, "shared": phase.train_shared, "macro": phase.train_macro, "encoder": phase.train_encoder, "decoder": phase.train_decoder}

    # ---- checkpoints --------------------------------------------------------------------------
    def _shard_folder(self) -> Path:
        return self.run_dir / "checkpoints" / f"shard-{self.rank:03d}"

    def _checkpoint_tensors(self, groups: list[str], field_names: set[str] | None) -> tuple[dict[str, Tensor], dict]:
        """Field tensors (all, or those named), the optimisers of `groups` and the random states."""
        tensors = {f"field.{k}": v for k, v in self.field.state_dict().items() if field_names is None or k in field_names}
        meta = {}
        for name in groups:
            flat, meta[name] = flatten_optimizer(f"optim.{name}", self.optimizers[name])
            tensors.update(flat)
        # mid-step (an interrupt), the random states of the step's start: a resumed run redraws the same batch
        rng_torch, rng_sampler = self._rng_at_step_start or (torch.get_rng_state(), self.generator.get_state())
        tensors["rng.torch"], tensors["rng.sampler"] = rng_torch, rng_sampler
        return tensors, meta

    def save(self) -> None:
        """Rank 0 writes a checkpoint (+ autoencoder/ when the autoencoder trains); other ranks wait for it.

        Scenes-parallel: every rank first writes its shard (its scenes' tensors and optimiser state); the
        shared checkpoint, written by rank 0 once all shards are on disk, marks the step complete.
        """
        if (self.run_dir / "checkpoints" / f"{checkpoint_name(self.step)}.json").is_file():
            # saved already (an interrupt during the next step): never overwrite it with a half-done step
            if self._rng_at_step_start is None:  # not an interrupt: keep the ranks in step (a peer may be gone otherwise)
                self._barrier()
            return
        if self.sharded:
            local = self._scene_state_names()
            shard, shard_meta = self._checkpoint_tensors([g for g in self.LOCAL_GROUPS if g in self.optimizers], local)
            save_checkpoint(self._shard_folder(), self.step, shard, {"optimizers": shard_meta, "rank": self.rank})
            self._barrier()
            shared_names = set(self.field.state_dict()) - local
            groups = [g for g in self.optimizers if g not in self.LOCAL_GROUPS]
        else:
            shared_names, groups = None, list(self.optimizers)
        if self.rank != 0:
            self._barrier()
            return
        tensors, meta = self._checkpoint_tensors(groups, shared_names)
        if isinstance(self.space, LatentSpace):
            tensors.update({f"ae.{k}": v for k, v in self.space.autoencoder.state_dict().items()})
        state = {"train_seconds": self.train_seconds, "saved_activation_mb": self.saved_activation_mb, "optimizers": meta, "parallel": "scenes" if self.sharded else "data", "world_size": self.world_size}
        save_checkpoint(self.run_dir / "checkpoints", self.step, tensors, state)
        if isinstance(self.space, LatentSpace) and any(p.train_encoder or p.train_decoder for p in self.config.phases):
            save_pretrained(self.space.autoencoder, self.run_dir / "autoencoder")
        self._barrier()

    def _agree(self, flag: bool) -> bool:
        """Rank 0's value of `flag` on every rank (time-based decisions must be taken together)."""
        if self.world_size == 1:
            return flag
        import torch.distributed as dist

        value = torch.tensor([1 if flag else 0])
        dist.broadcast(value, src=0)
        return bool(value.item())

    def _barrier(self) -> None:
        if self.world_size > 1:
            import torch.distributed as dist

            dist.barrier()

    def _restore(self) -> None:
        path = latest_checkpoint(self.run_dir / "checkpoints")
        if path is None:
            return
        tensors, state = load_checkpoint(path)
        was_sharded = state.get("parallel") == "scenes"
        if was_sharded != self.sharded or (was_sharded and state["world_size"] != self.world_size):
            saved = f"{state['world_size']} scenes-parallel ranks" if was_sharded else "one copy of every scene"
            raise ConfigError(f"--resume {self.run_dir}: its checkpoint holds {saved}; resume with --parallel "
                              f"{'scenes' if was_sharded else 'data'} and {state.get('world_size', 'any number of')} ranks")
        if self.sharded:  # this rank's scenes come from its shard of the same step
            shard_tensors, shard_state = load_checkpoint(self._shard_folder() / f"{path.name}")
            tensors.update(shard_tensors)  # its random states are this rank's own
            state["optimizers"].update(shard_state["optimizers"])
        self._load_prefixed(self.field, tensors, "field.")
        if isinstance(self.space, LatentSpace):
            self._load_prefixed(self.space.autoencoder, tensors, "ae.")
        for name, optimizer in self.optimizers.items():
            restore_optimizer(f"optim.{name}", optimizer, tensors, state["optimizers"][name])
        torch.set_rng_state(tensors["rng.torch"])
        self.generator.set_state(tensors["rng.sampler"])
        self.step, self.train_seconds = int(state["step"]), float(state["train_seconds"])
        self.saved_activation_mb = float(state.get("saved_activation_mb", 0.0))

    # ---- one step -----------------------------------------------------------------------------
    def phase_at(self, step: int) -> tuple[int, float]:
        """(phase index, fraction of the run done) at `step`, cut proportionally by --max-time."""
        progress = step / self.total_steps
        if self.config.max_time:
            progress = max(progress, self.train_seconds / self.config.max_time)
        done = 0.0
        for i, steps in enumerate(self.phase_steps):
            done += steps / self.total_steps
            if progress < done - 1e-12:
                return i, progress
        return len(self.phase_steps) - 1, progress

    def render_views(self, scene_ids: Tensor, split: str, views: list[int], pixels: list[tuple[Tensor, Tensor]] | None = None) -> Tensor:
        """Renders view views[b] of scene scene_ids[b] for every b (whole images or the given pixels): [B, n, C]."""
        bundles = []
        for b, (sid, view) in enumerate(zip(scene_ids.tolist(), views)):
            cams = self.scenes[sid].split(split).cameras.to(self.device)
            px, py = pixels[b] if pixels is not None else cams.image_pixels(view)
            index = torch.full_like(px, view)
            box_min, box_max = self.scenes[sid].box_min.to(self.device), self.scenes[sid].box_max.to(self.device)
            bundles.append(camera_rays(cams, index.to(self.device), px.to(self.device), py.to(self.device), box_min, box_max, training_cameras=False))
        rays = RayBundle(*(torch.cat([getattr(r, k) for r in bundles]) for k in ("origins", "directions", "near", "far")))
        fn = self.field.for_scenes(scene_ids.to(self.device))
        background = self.background_value.expand(len(rays), -1)
        out = render_coarse_to_fine(fn, fn, rays, background, self.config.n_samples, self.config.n_importance, self.field.training and self.config.perturb)
        return out["color"].reshape(len(views), -1, self.space.channels)

    def _model_parameters(self) -> list[torch.nn.Parameter]:
        """Every parameter of the field and, in a latent space, of the autoencoder."""
        modules = [self.field] + ([self.space.autoencoder] if isinstance(self.space, LatentSpace) else [])
        return [p for m in modules for p in m.parameters()]

    def measured_train_step(self) -> dict[str, float]:
        """train_step(); the first step of each phase also counts the bytes saved for backward."""
        phase_index = self.phase_at(self.step)[0]
        if phase_index in self._measured_phases:
            return self.train_step()
        self._measured_phases.add(phase_index)
        with SavedActivationMeter(self._model_parameters()) as meter:
            scalars = self.train_step()
        self.saved_activation_mb = max(self.saved_activation_mb, meter.bytes / 2**20 / max(self._rendered_scenes, 1))
        return scalars

    def train_step(self) -> dict[str, float]:
        cfg = self.config
        phase_index, progress = self.phase_at(self.step)
        phase = cfg.phases[phase_index]
        trains = self._trains(phase)
        for name, params in self.groups.items():
            for p in params:
                p.requires_grad_(trains[name])
            for group in self.optimizers[name].param_groups:
                group["lr"] = self._schedule(name).lr_at(progress)
        n = len(self.scenes)
        scene_ids = torch.randperm(n, generator=self.generator)[: self.batch_size]
        views = [int(torch.randint(len(self.scenes[s].split("train")), (1,), generator=self.generator)) for s in scene_ids.tolist()]
        batch_size = len(views)
        batch_rows = scene_ids  # every rank's gradients cover the whole batch once averaged
        data_parallel = self.world_size > 1 and not self.sharded
        if data_parallel:  # every rank drew the same global batch; each renders its slice
            part = rank_slice(batch_size, self.rank, self.world_size)
            scene_ids, views = scene_ids[part], views[part]
        train = [self.scenes[s].split("train") for s in scene_ids.tolist()]
        self._rendered_scenes = len(train)
        h, w = train[0].height, train[0].width
        pixels = None
        if cfg.rays_per_view > 0:  # drawn for the whole global batch, so every rank's generator stays in step
            flat = [torch.randint(h * w, (cfg.rays_per_view,), generator=self.generator) for _ in range(batch_size)]
            if data_parallel:
                flat = flat[part]
            pixels = [(f % w, f // w) for f in flat]
        render = self.render_views(scene_ids, "train", views, pixels)  # [B, n, C]
        rgb = torch.stack([composite_on_background(self.rgb_set.scenes[s].split("train").rgba(v), self.rgb_background) for s, v in zip(scene_ids.tolist(), views)]).to(self.device)
        losses: dict[str, Tensor] = {}
        if isinstance(self.space, LatentSpace):
            ae = self.space.autoencoder
            x = rgb.permute(0, 3, 1, 2) * 2.0 - 1.0
            mean = None
            if phase.train_encoder or phase.loss_ae > 0:
                with torch.set_grad_enabled(phase.train_encoder):
                    mean = ae.encode(x)[0]
                target = normalize_latent(mean).permute(0, 2, 3, 1)
            else:
                target = torch.stack([t.images[v, ..., :-1] for t, v in zip(train, views)]).to(self.device)
            target = self._pick(target, pixels)
            if phase.loss_e > 0:
                losses["e"] = phase.loss_e * torch.mean((render - target) ** 2)
            if phase.loss_d > 0:
                z = denormalize_latent(render.reshape(-1, h, w, self.space.channels)).permute(0, 3, 1, 2)
                losses["d"] = phase.loss_d * torch.mean((ae.decode(z) - x) ** 2)
            if phase.loss_ae > 0:
                losses["ae"] = phase.loss_ae * torch.mean((ae.decode(mean) - x) ** 2)
        else:
            losses["e"] = phase.loss_e * torch.mean((render - self._pick(rgb, pixels)) ** 2)
        if phase.tv > 0:
            losses["tv"] = phase.tv * plane_tv(self.field.table(scene_ids.to(self.device)))
        loss = sum(losses.values())
        if not torch.isfinite(loss):
            raise TrainingDivergedError(f"loss is {loss.item()} at step {self.step} (phase {phase.name}); last checkpoint in {self.run_dir / 'checkpoints'}")
        for optimizer in self.optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if data_parallel:  # each rank's loss is a mean over its slice: weight it by the slice's share
            average_gradients(self._model_parameters(), len(views) / batch_size)
        elif self.sharded:  # equal batches on every rank: the shared parts take the mean of the ranks' gradients
            average_gradients(self._shared_parameters(), 1.0 / self.world_size)
        for name, optimizer in self.optimizers.items():
            if trains[name] and isinstance(optimizer, RowAdam):
                optimizer.step(rows=batch_rows)
            elif trains[name]:
                optimizer.step()
        return {"loss": loss.item(), **{f"loss_{k}": v.item() for k, v in losses.items()}, "phase": float(phase_index)}

    @staticmethod
    def _pick(images: Tensor, pixels: list[tuple[Tensor, Tensor]] | None) -> Tensor:
        """images [B, H, W, C] -> [B, n, C]: all pixels (row-major) or the drawn ones."""
        if pixels is None:
            return images.reshape(images.shape[0], -1, images.shape[-1])
        return torch.stack([images[b, py.to(images.device), px.to(images.device)] for b, (px, py) in enumerate(pixels)])

    # ---- evaluation ---------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict:
        """Mean over scenes of the first eval_views test views: psnr/ssim in the space and decoded (+ metrics_ae)."""
        self.field.eval()
        encoder_trained = any(p.train_encoder for p in self.config.phases[: self.phase_at(self.step)[0] + 1])
        per_scene = []
        for sid, scene in enumerate(self.scenes):
            test = scene.split("test")
            rgb_test = self.rgb_set.scenes[sid].split("test")
            scores: dict[str, list[float]] = {}
            for view in range(min(self.config.eval_views, len(test))):
                render = self.render_views(torch.tensor([sid]), "test", [view])[0].reshape(test.height, test.width, -1).cpu()
                rgb = composite_on_background(rgb_test.rgba(view), self.rgb_background)
                target = composite_on_background(test.rgba(view), self.background_value.cpu())
                if encoder_trained:  # the cached latents were made by the encoder before training
                    target = self.space.encode(rgb[None])[0]
                values = {"psnr_e": psnr(render, target), "ssim_e": ssim(render, target)}
                if isinstance(self.space, LatentSpace):
                    decoded = self.space.decode(render[None])[0].cpu()
                    recon = self.space.decode(target[None])[0].cpu()
                    values.update(psnr_d=psnr(decoded, rgb), ssim_d=ssim(decoded, rgb), psnr_ae=psnr(recon, rgb))
                for k, v in values.items():
                    scores.setdefault(k, []).append(v)
            per_scene.append({"scene": self.rgb_set.names[sid], **{k: sum(v) / len(v) for k, v in scores.items()}})
        self.field.train()
        if self.sharded:
            per_scene = [row for rows in gather_objects(per_scene) for row in rows]
        keys = [k for k in per_scene[0] if k != "scene"]
        return {"mean": {k: sum(s[k] for s in per_scene) / len(per_scene) for k in keys}, "per_scene": per_scene}

    def cost_per_scene(self, rss_before_mb: float) -> dict[str, float]:
        """Per-scene parameters, their Adam state, and peak activations per rendered scene (MiB)."""
        table = self.field.table
        n = len(self.scenes)
        scene_params = sum(p.numel() for p in table.scene_parameters()) / n
        shared = sum(p.numel() for p in table.shared_parameters()) + sum(p.numel() for p in self.field.decoder.parameters())
        activations = max(_rss_mb() - rss_before_mb, 0.0) if self.device.type == "cpu" else torch.cuda.max_memory_allocated(self.device) / 2**20
        return {
            "scene_parameters": scene_params,
            "shared_parameters": float(shared),
            "scene_memory_mb": scene_params * 4 * 3 / 2**20,  # fp32 values + Adam's two moments
            "peak_activations_per_scene_mb": activations / max(self.batch_size, 1),
            # exact and device-independent: what autograd kept for one step's backward, per rendered scene
            "saved_activations_per_scene_mb": self.saved_activation_mb,
            # process-seconds: every rank trained for train_seconds
            "train_seconds_per_scene": self.train_seconds * self.world_size / (self.total_scenes if self.sharded else n),
        }

    # ---- loop ---------------------------------------------------------------------------------
    def train(self) -> Path:
        cfg = self.config
        rss_before = _rss_mb()
        bar = tqdm(total=self.total_steps, initial=self.step, disable=not cfg.progress, mininterval=1.0, file=sys.stderr)
        last_save = time.perf_counter()
        with checkpoint_on_interrupt(self.save, bar):
            while self.step < self.total_steps and not self._agree(bool(cfg.max_time and self.train_seconds >= cfg.max_time)):
                t0 = time.perf_counter()
                self._rng_at_step_start = (torch.get_rng_state(), self.generator.get_state())
                scalars = self.measured_train_step()
                self.step += 1
                self._rng_at_step_start = None
                self.train_seconds += time.perf_counter() - t0
                bar.update(1)
                if self.rank == 0 and (self.step % cfg.log_every == 0 or self.step == 1):
                    self.logger.scalars(self.step, {**scalars, "train_seconds": self.train_seconds})
                    bar.set_postfix(loss=f"{scalars['loss']:.4f}", phase=int(scalars["phase"]))
                if self._agree(time.perf_counter() - last_save > cfg.checkpoint_every_seconds):
                    self.save()
                    last_save = time.perf_counter()
        self.save()
        if self.rank != 0 and not self.sharded:
            return self.run_dir
        result = self.evaluate()  # scenes-parallel: every rank scores its shard
        if self.rank != 0:
            return self.run_dir
        summary = {"kind": cfg.kind, "space": cfg.space, "scenes": len(result["per_scene"]), "ranks": self.world_size, "parallel": cfg.parallel if self.world_size > 1 else "none",
                   "steps": self.step, "train_seconds": self.train_seconds,
                   "peak_memory_mb": _rss_mb(), **self.cost_per_scene(rss_before), "eval": result["mean"], "per_scene": result["per_scene"]}
        (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        self.logger.scalars(self.step, {f"eval_{k}": v for k, v in result["mean"].items()})
        self.logger.close()
        return self.run_dir
