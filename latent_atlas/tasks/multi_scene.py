"""Training many Tri-Plane scenes at once, in RGB or latent space, through a list of phases.

One step: B scenes, one random training view each, rendered together (one batched
plane lookup per sample set) and compared with the view's image or latent image. The
losses and what trains are given per phase (IG-AE, Scaled-IG stage 1 / 2 are presets).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from latent_atlas.cameras import Cameras, RayBundle, random_window, window_pixels
from latent_atlas.data.scene import SceneData, compact_records, composite_on_background, spread_indices
from latent_atlas.data.scene_set import load_scene_set, scene_folders
from latent_atlas.data.view_file import ViewFile
from latent_atlas.engine.checkpoints import (
    flatten_optimizer,
    latest_checkpoint,
    load_checkpoint,
    load_latest,
    restore_optimizer,
    save_checkpoint,
    tensors_under,
)
from latent_atlas.engine.device import release_free_memory, resident_peak_mb, resolve_device
from latent_atlas.engine.precision import autocast, decoder_autocast_dtype
from latent_atlas.engine.saved_activations import SavedActivationMeter
from latent_atlas.engine.task import Task
from latent_atlas.errors import ConfigError, DataError
from latent_atlas.evaluation.render_views import camera_rays, score_rendered_view
from latent_atlas.fields.multi_triplane import MicroMacroTable, MultiSceneTriPlaneField, PlaneTable
from latent_atlas.losses.pixel import l2
from latent_atlas.losses.regularisers import plane_tv
from latent_atlas.rendering.field_rendering import render_coarse_to_fine
from latent_atlas.scaled.config import MultiSceneConfig, PhaseConfig
from latent_atlas.scaled.distributed import all_reduce_int, average_gradients, gather_objects, init_from_env, rank_slice
from latent_atlas.scaled.row_adam import RowAdam
from latent_atlas.spaces.building import build_space, rgb_background


class MultiSceneTask(Task):
    """Trains a scene set; `train()` returns the run folder (with autoencoder/ when the autoencoder trained)."""

    name = "multi-scene"

    def __init__(self, config: MultiSceneConfig, read_only: bool = False):
        """`read_only`: load --resume's run to look at it (eval, render), without rewriting its config."""
        cfg = self.config = config
        if not cfg.data:
            raise ConfigError("--data is required (a family folder, folders of scenes or scene folders)")
        if cfg.parallel not in ("data", "scenes"):
            raise ConfigError(f"--parallel {cfg.parallel}: choose data or scenes")
        self.device = resolve_device(cfg.device)
        self.decoder_dtype = decoder_autocast_dtype(cfg.decoder_precision, self.device)
        self.rank, self.world_size = init_from_env(self.device)
        self.is_main = self.rank == 0
        self.unique_run_dir = self.world_size == 1
        self.sharded = cfg.parallel == "scenes" and self.world_size > 1  # this rank owns a shard of the scenes
        torch.manual_seed(cfg.seed)
        self.generator = torch.Generator().manual_seed(cfg.seed + (7919 * self.rank if self.sharded else 0))
        first, count, self.total_scenes = self._scene_range()
        prepare_start = time.perf_counter()  # reading the views and, in a latent space, encoding them (or their cache)
        self.rgb_background = rgb_background(cfg.background)
        self.space = build_space(cfg.space, self.device, cfg.ae, cfg.ae_preset, cfg.init)
        init_tensors = self._init_tensors()
        self.space.load_tensors(tensors_under(init_tensors, "ae."))
        self.view_file = ViewFile(cfg.output_dir) if cfg.views == "disk" else None
        self.scenes = []  # the scenes in the space (self.rgb_set: the same scenes in RGB)
        self.rgb_set = load_scene_set(cfg.data, first, count, on_load=self._map_scene)
        self.prepare_seconds = time.perf_counter() - prepare_start
        self.encoded_splits = self.space.encoded_splits()
        sizes = {tuple(s.split("train").images.shape[1:3]) for s in self.scenes}
        if len(sizes) != 1:
            raise DataError(cfg.data[0], f"scenes have different image sizes {sorted(sizes)}; a batch needs one size")
        self.background_value = self.space.background_value(self.rgb_background).to(self.device)
        self.channel_scale = self._channel_scale()  # [C] square roots of loss_e's channel weights, or None
        n = len(self.scenes)
        r = cfg.field.plane_resolution
        table = PlaneTable(n, cfg.field.plane_channels, r, cfg.field.init_std) if cfg.planes == "independent" else MicroMacroTable(n, cfg.micro_macro, r)
        table.sparse_grad = cfg.scene_optimizer != "adam"  # RowAdam reads the rows from the gradient: no O(N) dense gradient
        self.field = MultiSceneTriPlaneField(table, cfg.field, self.space.channels).to(self.device)
        if init_tensors:
            self._load_shared(init_tensors)
        # equal on every rank: the ranks of a sharded run take the same number of steps (and collectives)
        self.batch_size = min(cfg.scenes_per_batch, all_reduce_int(n, "min") if self.sharded else n)
        views = sum(len(s.split("train")) for s in self.scenes)
        views, per_step = (all_reduce_int(views), self.batch_size * self.world_size) if self.sharded else (views, self.batch_size)
        self.phase_steps = [max(1, math.ceil(p.epochs * views / per_step)) for p in cfg.phases]
        self.groups = self._groups()  # parameters never change identity here: collected once
        self.optimizers = self._make_optimizers()
        self.restored_from: Path | None = None  # the checkpoint a resumed run continues from
        self.saved_activation_mb = 0.0  # the most any measured step saved for backward, per scene it rendered
        self._rendered_scenes = 0  # scenes this rank rendered in the last step
        self._measured_phases: set[int] = set()  # phases whose first step (in this process) was measured
        if cfg.resume is None:
            cfg.timestamp = cfg.timestamp or self._shared_timestamp()
        self.open_run(save=not read_only)
        self._rss_before_mb = resident_peak_mb()  # what training adds on top (peak_activations_per_scene_mb)

    # ---- set-up -------------------------------------------------------------------------------
    def _map_scene(self, scene: SceneData) -> None:
        """Maps a just-loaded scene into the space (self.scenes), moving both forms' views to disk with --views disk;
        both records compact (compact_records)."""
        compact_records(scene)
        try:
            mapped = self.space.map_scene(scene, self.rgb_background, self.config.target_precision)
        except ValueError as exc:
            raise DataError(scene.source, str(exc)) from None
        compact_records(mapped)
        if self.view_file is not None:
            self.view_file.hold(scene)
            self.view_file.hold(mapped)
            release_free_memory()  # the freed image buffers, which would otherwise stay resident
        self.scenes.append(mapped)

    def _channel_scale(self) -> Tensor | None:
        """Square roots [C] of loss_e's channel weights (--channel-weights decoder), else None."""
        cfg = self.config
        if cfg.channel_weights == "uniform" or not self.space.parameters("decoder"):
            return None
        values = torch.cat([self.scenes[i].split("train").rgba(slice(0, 1))[..., : self.space.channels] for i in spread_indices(len(self.scenes), 4)])
        return self.space.loss_channel_scale(values, cfg.channel_weight_floor, cfg.seed).to(self.device)

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

    def _init_tensors(self) -> dict[str, Tensor]:
        """Tensors of --init's latest checkpoint ({} without --init)."""
        if self.config.init is None:
            return {}
        path = latest_checkpoint(Path(self.config.init) / "checkpoints")
        if path is None:
            raise DataError(self.config.init, "no complete checkpoint to initialise from")
        return load_checkpoint(path)[0]

    @staticmethod
    def _load_prefixed(module: torch.nn.Module, tensors: dict[str, Tensor], prefix: str) -> None:
        state = tensors_under(tensors, prefix)
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
        for param in self.space.parameters("all").values():  # a codec's parameters learn only in their group's phases
            param.requires_grad_(False)
        for part in ("encoder", "decoder"):  # a space with a codec: its two halves (RGB has none)
            if self.space.parameters(part):
                groups[part] = list(self._trained_codec_parameters(part).values())
        return groups

    def _trained_codec_parameters(self, part: str) -> dict[str, torch.nn.Parameter]:
        """What group `part` (encoder or decoder) trains: the space's part, or with --decoder-part head the decoder's head."""
        if part != "decoder" or self.config.decoder_part == "all":
            return self.space.parameters(part)
        try:
            return self.space.parameters("decoder-head")
        except ValueError as exc:
            raise ConfigError(f"--decoder-part head: {exc}") from None

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
        return {
            "scenes": cfg.scene_lr,
            "coefficients": cfg.coefficient_lr,
            "shared": cfg.shared_lr,
            "macro": cfg.shared_lr,
            "encoder": cfg.ae_lr,
            "decoder": cfg.ae_lr,
        }[name]

    def _make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One optimiser per group with its OptimizerConfig (lr, eps, betas, weight decay); row-adam or lazy-adam for
        the per-scene groups."""
        row_wise = self.config.scene_optimizer != "adam"
        optimizers = {}
        for name, params in self.groups.items():
            opt = self._schedule(name)
            if row_wise and name in self.LOCAL_GROUPS:
                if opt.weight_decay > 0:
                    flag = {"scenes": "--scene-lr.weight-decay", "coefficients": "--coefficient-lr.weight-decay"}[name]
                    raise ConfigError(f"--scene-optimizer {self.config.scene_optimizer} has no weight decay: drop {flag} {opt.weight_decay:g}")
                optimizers[name] = RowAdam(params, lr=opt.lr, betas=opt.betas, eps=opt.eps, catch_up=self.config.scene_optimizer == "lazy-adam")
            else:
                optimizers[name] = opt.build(params)
        return optimizers

    def _catch_up_scenes(self, scene_ids: Tensor | None = None) -> None:
        """lazy-adam: moves these scenes' rows (None: every scene, before all are read) by the steps they missed."""
        for name in self.LOCAL_GROUPS:
            if isinstance(self.optimizers.get(name), RowAdam):
                self.optimizers[name].catch_up(scene_ids)

    def _trains(self, phase: PhaseConfig) -> dict[str, bool]:
        return {
            "scenes": phase.train_scenes,
            "coefficients": phase.train_scenes,
            "shared": phase.train_shared,
            "macro": phase.train_macro,
            "encoder": phase.train_encoder,
            "decoder": phase.train_decoder,
        }

    # ---- checkpoints --------------------------------------------------------------------------
    def _shard_folder(self) -> Path:
        return self.run_dir / "checkpoints" / f"shard-{self.rank:03d}"

    def _checkpoint_tensors(self, groups: list[str], field_names: set[str] | None) -> tuple[dict[str, Tensor], dict]:
        """Field tensors (all, or those named), the optimisers of `groups` and the random states."""
        self._catch_up_scenes()  # a checkpoint holds every scene where dense Adam has it (and resumes from there)
        tensors = {f"field.{k}": v for k, v in self.field.state_dict().items() if field_names is None or k in field_names}
        meta = {}
        for name in groups:
            flat, meta[name] = flatten_optimizer(f"optim.{name}", self.optimizers[name])
            tensors.update(flat)
        # mid-step (an interrupt), the random states of the step's start: a resumed run redraws the same batch
        tensors.update(self._rng_at_step_start or self._random_states())
        return tensors, meta

    def random_generators(self) -> dict[str, torch.Generator]:
        return {"sampler": self.generator}

    @property
    def total_steps(self) -> int:
        return sum(self.phase_steps)

    def default_experiment(self) -> str:
        return Path(self.config.data[0]).name

    def kind(self) -> str:
        return self.config.kind

    def save(self, keep_forever: bool = False) -> Path | None:
        """Rank 0 writes a checkpoint (+ autoencoder/ when the autoencoder trains); other ranks wait for it.

        Scenes-parallel: every rank first writes its shard (its scenes' tensors and optimiser state); the
        shared checkpoint, written by rank 0 once all shards are on disk, marks the step complete.
        """
        if self.saved_already():
            # saved already (an interrupt during the next step): never overwrite it with a half-done step
            if self._rng_at_step_start is None:  # not an interrupt: keep the ranks in step (a peer may be gone otherwise)
                self.barrier()
            return None
        if self.sharded:
            local = self._scene_state_names()
            shard, shard_meta = self._checkpoint_tensors([g for g in self.LOCAL_GROUPS if g in self.optimizers], local)
            self.refuse_non_finite(shard)
            save_checkpoint(self._shard_folder(), self.step, shard, {"optimizers": shard_meta, "rank": self.rank}, self.config.keep_checkpoints, keep_forever)
            self.barrier()
            shared_names = set(self.field.state_dict()) - local
            groups = [g for g in self.optimizers if g not in self.LOCAL_GROUPS]
        else:
            shared_names, groups = None, list(self.optimizers)
        if self.rank != 0:
            self.barrier()
            return None
        tensors, meta = self._checkpoint_tensors(groups, shared_names)
        tensors.update({f"ae.{k}": v for k, v in self.space.state_tensors().items()})
        self.refuse_non_finite(tensors)
        state = {
            "train_seconds": self.train_seconds,
            "lr_scale": self.lr_scale,
            "saved_activation_mb": self.saved_activation_mb,
            "optimizers": meta,
            "parallel": "scenes" if self.sharded else "data",
            "world_size": self.world_size,
        }
        path = save_checkpoint(self.checkpoint_dir, self.step, tensors, state, self.config.keep_checkpoints, keep_forever)
        if any(p.train_encoder or p.train_decoder for p in self.config.phases):
            self.space.export(self.run_dir / "autoencoder")
        self.barrier()
        return path.with_suffix(".json")

    def agree(self, flag: bool) -> bool:
        """Rank 0's value of `flag` on every rank (time-based decisions must be taken together)."""
        if self.world_size == 1:
            return flag
        import torch.distributed as dist

        value = torch.tensor([1 if flag else 0])
        dist.broadcast(value, src=0)
        return bool(value.item())

    def barrier(self) -> None:
        if self.world_size > 1:
            import torch.distributed as dist

            dist.barrier()

    def restore(self) -> bool:
        """The latest readable complete step (and, scenes-parallel, this rank's shard of it); a damaged newest
        checkpoint is set aside and the one before it used."""
        found = load_latest(self.checkpoint_dir)
        if found is None:
            return False
        path, tensors, state = found
        self.restored_from = path
        was_sharded = state.get("parallel") == "scenes"
        if was_sharded != self.sharded or (was_sharded and state["world_size"] != self.world_size):
            saved = f"{state['world_size']} scenes-parallel ranks" if was_sharded else "one copy of every scene"
            raise ConfigError(
                f"--resume {self.run_dir}: its checkpoint holds {saved}; resume with --parallel "
                f"{'scenes' if was_sharded else 'data'} and {state.get('world_size', 'any number of')} ranks"
            )
        if self.sharded:  # this rank's scenes come from its shard of the same step
            shard_tensors, shard_state = load_checkpoint(self._shard_folder() / f"{path.name}")
            tensors.update(shard_tensors)  # its random states are this rank's own
            state["optimizers"].update(shard_state["optimizers"])
        self._load_prefixed(self.field, tensors, "field.")
        self.space.load_tensors(tensors_under(tensors, "ae."))
        for name, optimizer in self.optimizers.items():
            restore_optimizer(f"optim.{name}", optimizer, tensors, state["optimizers"][name])
        self.restore_random_states(tensors)
        self.step, self.train_seconds = int(state["step"]), float(state["train_seconds"])
        self.lr_scale = float(state.get("lr_scale", 1.0))
        self.saved_activation_mb = float(state.get("saved_activation_mb", 0.0))
        return True

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
        out = render_coarse_to_fine(
            fn, fn, rays, background, self.config.n_samples, self.config.n_importance, self.field.training and self.config.perturb, coarse_gradients=False
        )
        return out["color"].reshape(len(views), -1, self.space.channels)

    @torch.no_grad()
    def view_scenes(self) -> list[tuple[str, Cameras]]:
        """(name, training cameras) of every scene, for the viewer."""
        return [(name, scene.split("train").cameras) for name, scene in zip(self.rgb_set.names, self.scenes)]

    def view_renderer(self):
        """(scene index, one camera, metadata) -> render of that scene as it is now (the viewer's)."""
        return lambda scene, camera, metadata=None: self.render_cameras(scene, camera, 0, metadata)

    def render_cameras(self, scene_index: int, cameras: Cameras, index: int, metadata: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """Renders camera `index` of any cameras (an orbit, a path) for one scene: {'color', 'acc', 'depth'}: [H, W, ...]
        (static scenes: metadata is ignored)."""
        cameras = cameras.to(self.device)
        px, py = cameras.image_pixels(index)
        scene = self.scenes[scene_index]
        rays = camera_rays(cameras, torch.full_like(px, index), px, py, scene.box_min.to(self.device), scene.box_max.to(self.device), training_cameras=False)
        fn = self.field.for_scenes(torch.tensor([scene_index], device=self.device))
        out = render_coarse_to_fine(fn, fn, rays, self.background_value.expand(len(rays), -1), self.config.n_samples, self.config.n_importance, False)
        h, w = int(cameras.height[index]), int(cameras.width[index])
        return {k: out[k].reshape(h, w, -1) for k in ("color", "acc", "depth")}

    def _model_parameters(self) -> list[torch.nn.Parameter]:
        """Every parameter of the field and, in a latent space, of the autoencoder."""
        return list(self.field.parameters()) + list(self.space.parameters("all").values())

    def train_step(self) -> dict[str, float]:
        """One step (the engine's); the first step of each phase also counts the bytes saved for backward."""
        return self.measured_train_step()

    def measured_train_step(self) -> dict[str, float]:
        """optimisation_step(); the first step of each phase also counts the bytes saved for backward."""
        phase_index = self.phase_at(self.step)[0]
        if phase_index in self._measured_phases:
            return self.optimisation_step()
        self._measured_phases.add(phase_index)
        with SavedActivationMeter(self._model_parameters()) as meter:
            scalars = self.optimisation_step()
        self.saved_activation_mb = max(self.saved_activation_mb, meter.bytes / 2**20 / max(self._rendered_scenes, 1))
        return scalars

    def optimisation_step(self) -> dict[str, float]:
        """B scenes, one random training view each, rendered together; the phase's losses; its parts step."""
        cfg = self.config
        phase_index, progress = self.phase_at(self.step)
        phase = cfg.phases[phase_index]
        trains = self._trains(phase)
        for name, params in self.groups.items():
            for p in params:
                p.requires_grad_(trains[name])
            for group in self.optimizers[name].param_groups:
                group["lr"] = self._schedule(name).lr_at(progress) * self.lr_scale
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
        pixels, corners = None, None
        if 0 < cfg.rays_per_view < h * w and phase.loss_d == 0:  # drawn for the whole global batch, so every rank's generator stays in step
            flat = [torch.randint(h * w, (cfg.rays_per_view,), generator=self.generator) for _ in range(batch_size)]
            if data_parallel:
                flat = flat[part]
            pixels = [(f % w, f // w) for f in flat]
        elif phase.loss_d > 0 and 0 < cfg.decoded_crop < max(h, w):  # a square of each view, rendered and decoded
            windows = [random_window(self.generator, w, h, cfg.decoded_crop) for _ in range(batch_size)]
            if data_parallel:
                windows = windows[part]
            w, h = windows[0][2], windows[0][3]
            corners = [window[:2] for window in windows]
            pixels = [window_pixels(window) for window in windows]
        self._catch_up_scenes(scene_ids)  # lazy-adam: the batch's scenes where dense Adam has them
        render = self.render_views(scene_ids, "train", views, pixels)  # [B, n, C]
        rgb = None  # the RGB views, composited only for a phase that encodes or decodes: [B, H, W, 3]
        if phase.train_encoder or phase.loss_ae > 0 or phase.loss_d > 0:
            rgb = torch.stack(
                [composite_on_background(self.rgb_set.scenes[s].split("train").rgba(v), self.rgb_background) for s, v in zip(scene_ids.tolist(), views)]
            ).to(self.device)
        losses: dict[str, Tensor] = {}
        raw = None
        if phase.train_encoder or phase.loss_ae > 0:  # the targets from the encoder as it is now
            with torch.set_grad_enabled(phase.train_encoder):
                target, raw = self.space.encode_for_training(rgb)
        else:  # the space's cached targets (opaque in a latent space; RGB composites them on the background)
            target = torch.stack([composite_on_background(t.rgba(v), self.background_value.cpu()) for t, v in zip(train, views)]).to(self.device)
        target = self._pick(target, pixels)
        decoded_target = rgb  # what the decoded render is compared with: the views, or their crops' pixels
        if corners is not None:  # a latent pixel covers f x f image pixels (corners come only with loss_d, so rgb is there)
            f = rgb.shape[1] // train[0].height
            decoded_target = torch.stack([image[y0 * f : (y0 + h) * f, x0 * f : (x0 + w) * f] for image, (x0, y0) in zip(rgb, corners)])
        if phase.loss_e > 0 or not (phase.loss_d > 0 or phase.loss_ae > 0):
            scale = 1.0 if self.channel_scale is None else self.channel_scale
            losses["e"] = phase.loss_e * l2(render * scale, target * scale)
        with autocast(self.device, self.decoder_dtype):  # --decoder-precision: the autoencoder's convolutions; the losses stay fp32
            if phase.loss_d > 0:
                losses["d"] = phase.loss_d * self.space.decoded_loss(render.reshape(-1, h, w, self.space.channels), decoded_target)
            if phase.loss_ae > 0:
                losses["ae"] = phase.loss_ae * self.space.reconstruction_loss(raw, rgb)
        if phase.tv > 0:
            losses["tv"] = phase.tv * plane_tv(self.field.table(scene_ids.to(self.device)))
        loss = sum(losses.values())
        if not torch.isfinite(loss):  # the engine reports it; no step is taken with it
            return {"loss": loss.item(), **{f"loss_{k}": v.item() for k, v in losses.items()}, "phase": float(phase_index)}
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
        with torch.no_grad():  # for the engine's collapse guard: what the phase fits, against a constant colour per view (the background is one)
            if "e" in losses or "d" not in losses:
                fit = {"fit_mse": l2(render, target).item(), "baseline_mse": _constant_error(target)}
            else:  # a decoded phase lets the latents drift from the encoder's; the decoded views are the fit ([-1, 1] scale)
                fit = {"fit_mse": (losses["d"] / phase.loss_d).item(), "baseline_mse": 4.0 * _constant_error(decoded_target.reshape(len(rgb), -1, 3))}
        return {"loss": loss.item(), **{f"loss_{k}": v.item() for k, v in losses.items()}, "phase": float(phase_index), **fit}

    @staticmethod
    def _pick(images: Tensor, pixels: list[tuple[Tensor, Tensor]] | None) -> Tensor:
        """images [B, H, W, C] -> [B, n, C]: all pixels (row-major) or the drawn ones."""
        if pixels is None:
            return images.reshape(images.shape[0], -1, images.shape[-1])
        return torch.stack([images[b, py.to(images.device), px.to(images.device)] for b, (px, py) in enumerate(pixels)])

    # ---- evaluation ---------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate_scenes(self) -> dict:
        """Mean over scenes of the first eval_views test views, and each scene's: the space's metric groups as
        psnr_e/ssim_e (in the space), psnr_d/ssim_d (decoded), psnr_ae (the autoencoder's reconstruction), ..."""
        self._catch_up_scenes()
        self.field.eval()
        encoder_trained = any(p.train_encoder for p in self.config.phases[: self.phase_at(self.step)[0] + 1])
        per_scene = []
        for sid, scene in enumerate(self.scenes):
            test = scene.split("test")
            rgb_test = self.rgb_set.scenes[sid].split("test")
            scores: dict[str, list[float]] = {}
            for view in range(min(self.config.eval_views, len(test))):
                render = self.render_views(torch.tensor([sid]), "test", [view])[0].reshape(test.height, test.width, -1).cpu()
                if encoder_trained:  # the cached latents were made by the encoder before training: encode again
                    rgb = composite_on_background(rgb_test.rgba(view), self.rgb_background)
                    score = self.space.score_view(render, self.space.encode(rgb[None])[0], rgb)
                else:
                    score = score_rendered_view(self.space, render, test, rgb_test, view, self.background_value, self.rgb_background)
                for k, v in score.flat().items():
                    scores.setdefault(k, []).append(v)
            per_scene.append({"scene": self.rgb_set.names[sid], **{k: sum(v) / len(v) for k, v in scores.items()}})
        self.field.train()
        if self.sharded:
            per_scene = [row for rows in gather_objects(per_scene) for row in rows]
        keys = [k for k in per_scene[0] if k != "scene"]
        return {"mean": {k: sum(s[k] for s in per_scene) / len(per_scene) for k in keys}, "per_scene": per_scene}

    def evaluate(self) -> dict[str, float]:
        """Periodic evaluation (--eval-every): the mean over scenes, as eval_<metric>."""
        return {f"eval_{k}": v for k, v in self.evaluate_scenes()["mean"].items()}

    def cost_per_scene(self, rss_before_mb: float) -> dict[str, float]:
        """Per-scene parameters, their Adam state, and peak activations per rendered scene (MiB)."""
        table = self.field.table
        n = len(self.scenes)
        scene_params = sum(p.numel() for p in table.scene_parameters()) / n
        shared = sum(p.numel() for p in table.shared_parameters()) + sum(p.numel() for p in self.field.decoder.parameters())
        activations = max(resident_peak_mb() - rss_before_mb, 0.0) if self.device.type == "cpu" else torch.cuda.max_memory_allocated(self.device) / 2**20
        return {
            "scene_parameters": scene_params,
            "shared_parameters": float(shared),
            "scene_memory_mb": scene_params * 4 * 3 / 2**20,  # fp32 values + Adam's two moments
            "peak_activations_per_scene_mb": activations / max(self.batch_size, 1),
            # exact and device-independent: what autograd kept for one step's backward, per rendered scene
            "saved_activations_per_scene_mb": self.saved_activation_mb,
            # process-seconds: every rank trained for train_seconds
            "train_seconds_per_scene": self.train_seconds * self.world_size / (self.total_scenes if self.sharded else n),
            # not in train_seconds: reading the views and encoding them (a one-time cost per scene of a latent space
            # unless encoded_splits says they came from the cache)
            "prepare_seconds_per_scene": self.prepare_seconds * self.world_size / (self.total_scenes if self.sharded else n),
            **({"encoded_splits": self.encoded_splits} if self.encoded_splits is not None else {}),
        }

    def summary(self) -> dict[str, Any] | None:
        """Scenes, costs per scene and the final evaluation (scenes-parallel: every rank scores its shard)."""
        cfg = self.config
        if self.rank != 0 and not self.sharded:
            return None
        result = self.evaluate_scenes()
        if self.rank != 0:
            return None
        return {
            "kind": cfg.kind,
            "space": self.space.name,
            "scenes": len(result["per_scene"]),
            "ranks": self.world_size,
            "parallel": cfg.parallel if self.world_size > 1 else "none",
            "decoder_precision": "bf16" if self.decoder_dtype == torch.bfloat16 else "fp32",  # what --decoder-precision auto chose here
            **self.cost_per_scene(self._rss_before_mb),
            "eval": result["mean"],
            "per_scene": result["per_scene"],
        }


def _constant_error(views: Tensor) -> float:
    """Mean squared error of the best constant colour per view: views [B, n, C]."""
    return l2(views.mean(1, keepdim=True).expand_as(views), views).item()
