"""`latlas`: train, ae train, eval, render, data synth, methods. Errors print one line and exit non-zero."""

from __future__ import annotations

import sys
from pathlib import Path

USAGE = """usage: latlas COMMAND [options]

commands:
  train METHOD --data PATH [...]   train a method on a scene (latlas train METHOD --help)
  train --resume RUN_DIR [...]     continue any killed or finished run (one scene, many scenes, autoencoder)
  eval --run RUN_DIR               metrics on held-out views -> RUN_DIR/eval/metrics.json (per scene for many-scene runs)
  render --run RUN_DIR [--path P]  a video along orbit|spiral|interpolate|camera_path.json, with
                                   --outputs rgb depth accumulation latent -> RUN_DIR/render/
  export mesh --run RUN_DIR        the surface as a PLY mesh (volsdf's SDF, or a NeRF's density at --level)
  view --run RUN_DIR [--port N]    the live viewer (viser) in the browser; train ... --viewer during training
  ae train --data PATH [...]       train or fine-tune an autoencoder (latlas ae train --help)
  ae train --resume RUN_DIR        continue an autoencoder run
  igae --data FAMILY [--preset P]  IG-AE: make an autoencoder 3D-consistent with Tri-Plane scenes
  scale stage1|stage2 --data ...   Scaled-IG: shared macro planes (stage1), new scenes cheaply (stage2)
  triplanes --data FAMILY          many independent Tri-Plane scenes (RGB or latent)
                                   (igae/scale/triplanes: --resume RUN continues a run; --run-dir DIR starts
                                   or continues one in DIR, for torchrun --max-restarts)
  data synth --family F --output D procedural scene families (objects cars dynamic textured thin mixed)
  methods                          list the registered methods
"""


def _fail(message: str, code: int = 2) -> int:
    print(f"latlas: error: {message}", file=sys.stderr)
    return code


def parse_flags(config_type, **kwargs):
    """tyro.cli, with its usage errors turned into one line (ConfigError, exit 2), and the numbers checked
    (config_checks); --help prints as tyro does."""
    import contextlib
    import io
    import re

    import tyro

    from latent_atlas.config_checks import check_config
    from latent_atlas.errors import ConfigError

    buffer = io.StringIO()
    try:
        with contextlib.redirect_stderr(buffer):
            config = tyro.cli(config_type, **kwargs)
        check_config(config)
        return config
    except SystemExit as exc:
        if exc.code in (0, None):
            sys.stderr.write(buffer.getvalue())
            raise
        raw = [line for line in buffer.getvalue().splitlines() if not line.lstrip().startswith(("╭", "╰"))]  # box title and bottom
        lines = [re.sub(r"^[\s│─┃]+|[\s│─┃]+$", "", line) for line in raw]
        text = " ".join(line for line in lines if line and not line.startswith("For full helptext") and set(line) != {"─"})
        raise ConfigError(re.sub(r"\s+", " ", text).strip() or "invalid command line (see --help)") from None


def _pop_option(args: list[str], name: str) -> tuple[str | None, list[str]]:
    """Removes `--name VALUE` or `--name=VALUE` from args; returns (VALUE or None, remaining)."""
    rest, value, i = [], None, 0
    while i < len(args):
        if args[i] == name and i + 1 < len(args):
            value, i = args[i + 1], i + 2
            continue
        if args[i].startswith(name + "="):
            value = args[i].split("=", 1)[1]
        else:
            rest.append(args[i])
        i += 1
    return value, rest


def _resume_config(resume: str, rest: list[str], prog: str):
    """(task name, config) of --resume RUN with the flags in `rest` applied over the saved config."""
    from latent_atlas.config_checks import check_resume_overrides
    from latent_atlas.engine.run_dir import absolute_paths
    from latent_atlas.tasks.registry import load_run_config

    task, saved = load_run_config(Path(resume))
    config = parse_flags(type(saved), default=saved, args=rest, prog=f"{prog} --resume {resume}")
    check_resume_overrides(resume, absolute_paths(saved), absolute_paths(config))
    config.resume = Path(resume)
    return task, config


def device_type_of(args: list[str]) -> str:
    """The device type a new run will use ('cpu' or 'cuda'), from --device in args (default auto)."""
    import torch

    name, _ = _pop_option(args, "--device")
    if name in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cuda" if name.startswith("cuda") else "cpu"


def _viewer_callbacks(config) -> tuple:
    """The viewer callback when --viewer was given."""
    if not getattr(config, "viewer", False):
        return ()
    from latent_atlas.viewer.callback import ViewerCallback

    return (ViewerCallback(port=config.viewer_port, share=config.viewer_share),)


def cmd_view(args: list[str]) -> int:
    from latent_atlas.viewer.view import ViewConfig, view_run

    view_run(parse_flags(ViewConfig, args=args, prog="latlas view"))
    return 0


def cmd_train(args: list[str]) -> int:
    from latent_atlas.errors import ConfigError
    from latent_atlas.methods.defaults import device_flags
    from latent_atlas.methods.registry import METHOD_DESCRIPTIONS, METHODS, method_config
    from latent_atlas.tasks.registry import task_class
    from latent_atlas.tasks.scene_config import TrainConfig

    resume, rest = _pop_option(args, "--resume")
    if resume is not None:  # any run folder: one scene, many scenes or an autoencoder
        named = rest.pop(0) if rest and not rest[0].startswith("-") else None  # `latlas train METHOD --resume RUN`
        task, config = _resume_config(resume, rest, "latlas train")
        if named is not None and named != getattr(config, "method_name", None):
            raise ConfigError(f"--resume {resume}: the run is '{getattr(config, 'method_name', task)}', not '{named}'")
        run_dir = task_class(task)(config).train(_viewer_callbacks(config))
        print(f"run folder: {run_dir}")
        return 0
    if not args or args[0] in ("-h", "--help"):
        print("usage: latlas train METHOD --data PATH [options]\n\nmethods:")
        for name in sorted(METHODS):
            print(f"  {name:16s} {METHOD_DESCRIPTIONS.get(name, '')}")
        return 0 if args else 2
    name = args[0]
    if name not in METHODS:
        raise ConfigError(f"unknown method '{name}' (known: {', '.join(sorted(METHODS))})")
    device_type = device_type_of(args[1:])
    space = _pop_option(args[1:], "--space")[0] or "rgb"
    defaults = list(device_flags(name, device_type, space))
    if defaults and not any(a in ("-h", "--help") for a in args):
        print(f"latlas: {device_type} defaults for {name} in {space} space: {' '.join(defaults)} (any flag given overrides them)")
    default = TrainConfig(method_name=name, method=method_config(name))
    config = parse_flags(TrainConfig, default=default, args=[*defaults, *args[1:]], prog=f"latlas train {name}", description=METHOD_DESCRIPTIONS.get(name))
    run_dir = task_class("scene")(config).train(_viewer_callbacks(config))
    print(f"run folder: {run_dir}")
    return 0


def cmd_eval(args: list[str]) -> int:
    import json

    from latent_atlas.evaluation.evaluate import EvalConfig, evaluate_run

    cfg = parse_flags(EvalConfig, args=args, prog="latlas eval")
    result = evaluate_run(cfg)
    print(json.dumps(result["results"], indent=2))
    print(f"metrics: {cfg.output or cfg.run / 'eval' / 'metrics.json'}")
    return 0


def cmd_render(args: list[str]) -> int:
    from latent_atlas.evaluation.render import RenderConfig, render_video

    print(f"video: {render_video(parse_flags(RenderConfig, args=args, prog='latlas render'))}")
    return 0


def cmd_export(args: list[str]) -> int:
    from latent_atlas.evaluation.mesh_export import MeshExportConfig, export_mesh

    if not args or args[0] != "mesh":
        return _fail("usage: latlas export mesh --run RUN [options] (see latlas export mesh --help)")
    print(f"mesh: {export_mesh(parse_flags(MeshExportConfig, args=args[1:], prog='latlas export mesh'))}")
    return 0


def cmd_data(args: list[str]) -> int:
    from latent_atlas.data.synth.writer import SynthConfig, scenes_to_render, synthesize

    if not args or args[0] != "synth":
        return _fail("usage: latlas data synth [options] (see latlas data synth --help)")
    cfg = parse_flags(SynthConfig, args=args[1:], prog="latlas data synth")
    rendered = len(scenes_to_render(cfg))
    folders = synthesize(cfg)
    kept = f" ({len(folders) - rendered} kept from an earlier run)" if rendered < len(folders) else ""
    print(f"wrote {len(folders)} scene(s) of family '{cfg.family}' to {cfg.output}{kept}")
    return 0


def _merge_repeated(args: list[str], name: str) -> list[str]:
    """`--data A --data B C` -> `--data A B C` (repeated flags accumulate, as users expect)."""
    values, rest, i = [], [], 0
    while i < len(args):
        if args[i] == name:
            i += 1
            while i < len(args) and not args[i].startswith("--"):
                values.append(args[i])
                i += 1
            continue
        rest.append(args[i])
        i += 1
    return rest + ([name, *values] if values else [])


def cmd_ae(args: list[str]) -> int:
    import json

    from latent_atlas.tasks.autoencoder import AETrainConfig, AETrainer

    if not args or args[0] != "train":
        return _fail("usage: latlas ae train --data PATH [PATH ...] [options] (see latlas ae train --help)")
    resume, rest = _pop_option(args[1:], "--resume")
    rest = _merge_repeated(rest, "--data")
    if resume is not None:
        _, config = _resume_config(resume, rest, "latlas ae train")
    else:
        config = parse_flags(AETrainConfig, args=rest, prog="latlas ae train")
    run_dir = AETrainer(config).train()
    print(json.dumps(json.loads((run_dir / "summary.json").read_text()), indent=2))
    print(f"autoencoder: {run_dir / 'autoencoder'} (pass --ae {run_dir})")
    print(f"run folder: {run_dir}")
    return 0


def _run_scaled(args: list[str], default_preset: str, prog: str) -> int:
    import json

    from latent_atlas.errors import ConfigError
    from latent_atlas.scaled.config import MultiSceneConfig
    from latent_atlas.scaled.presets import SCALED_PRESETS, scaled_preset
    from latent_atlas.tasks.multi_scene import MultiSceneTask

    preset, rest = _pop_option(args, "--preset")
    resume, rest = _pop_option(rest, "--resume")
    run_dir, rest = _pop_option(rest, "--run-dir")
    rest = _merge_repeated(rest, "--data")
    if resume is not None and run_dir is not None:
        raise ConfigError("give --resume RUN (continue a run) or --run-dir DIR (start or continue in DIR), not both")
    if run_dir is not None and (Path(run_dir) / "config.json").is_file():
        resume = run_dir
    if resume is not None:  # an existing run: a typo is an error, never a new run
        _, config = _resume_config(resume, rest, prog)
    else:  # a new run (with --run-dir DIR: started in DIR, so that torchrun restarts continue it)
        try:
            default = scaled_preset(preset or default_preset)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        config = parse_flags(MultiSceneConfig, default=default, args=rest, prog=prog, description=f"presets (--preset): {', '.join(SCALED_PRESETS)}")
        config.resume = Path(run_dir) if run_dir is not None else None
    run_dir = MultiSceneTask(config).train(_viewer_callbacks(config))
    summary = json.loads((run_dir / "summary.json").read_text())
    summary.pop("per_scene", None)
    print(json.dumps(summary, indent=2))
    print(f"run folder: {run_dir}")
    return 0


def cmd_igae(args: list[str]) -> int:
    return _run_scaled(args, "igae-cpu", "latlas igae")


def cmd_triplanes(args: list[str]) -> int:
    return _run_scaled(args, "triplanes-rgb-cpu", "latlas triplanes")


def cmd_scale(args: list[str]) -> int:
    if not args or args[0] not in ("stage1", "stage2"):
        return _fail("usage: latlas scale stage1|stage2 --data PATH [options] (see latlas scale stage1 --help)")
    return _run_scaled(args[1:], f"scale-{args[0]}-cpu", f"latlas scale {args[0]}")


def cmd_methods(args: list[str]) -> int:
    from latent_atlas.methods.registry import METHOD_DESCRIPTIONS, METHODS

    for name in sorted(METHODS):
        print(f"{name:16s} {METHOD_DESCRIPTIONS.get(name, '')}")
    return 0


COMMANDS = {
    "train": cmd_train,
    "ae": cmd_ae,
    "igae": cmd_igae,
    "scale": cmd_scale,
    "triplanes": cmd_triplanes,
    "eval": cmd_eval,
    "render": cmd_render,
    "view": cmd_view,
    "export": cmd_export,
    "data": cmd_data,
    "methods": cmd_methods,
}


def main(argv: list[str] | None = None) -> int:
    """Runs `latlas` with argv (default sys.argv[1:]); returns the exit code."""
    from latent_atlas.engine.device import tune_allocator
    from latent_atlas.engine.interrupts import sigterm_as_interrupt
    from latent_atlas.errors import LatlasError

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command = COMMANDS.get(argv[0])
    if command is None:
        return _fail(f"unknown command '{argv[0]}' (known: {', '.join(COMMANDS)})")
    tune_allocator()  # training steps reuse freed memory instead of faulting it in again (glibc)
    try:
        with sigterm_as_interrupt():  # a SIGTERM outside the training loop ends the command as Ctrl-C does
            return command(argv[1:])
    except LatlasError as exc:
        return _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:  # SIGTERM or Ctrl-C: in training the engine wrote a checkpoint first; after it, the last one stands
        return _fail("interrupted; a checkpoint was written, continue with --resume", 130)
    except OSError as exc:  # the file system refused (disk full, permissions, a file where a folder goes)
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{where}{exc.strerror or exc.__class__.__name__} (checkpoints written before it stay valid)", 4)
    except MemoryError:
        return _fail("out of memory (try fewer --rays-per-batch / smaller images)", 4)


def entrypoint() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entrypoint()
