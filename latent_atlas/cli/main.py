"""`latlas`: train, ae train, eval, render, data synth, methods. Errors print one line and exit non-zero."""

from __future__ import annotations

import sys
from pathlib import Path

USAGE = """usage: latlas COMMAND [options]

commands:
  train METHOD --data PATH [...]   train a method on a scene (latlas train METHOD --help)
  train --resume RUN_DIR [...]     continue a killed or finished run
  eval --run RUN_DIR               metrics on held-out views -> RUN_DIR/eval/metrics.json
  render --run RUN_DIR             orbit images and GIF -> RUN_DIR/render/
  ae train --data PATH [...]       train or fine-tune an autoencoder (latlas ae train --help)
  ae train --resume RUN_DIR        continue an autoencoder run
  igae --data FAMILY [--preset P]  IG-AE: make an autoencoder 3D-consistent with Tri-Plane scenes
  scale stage1|stage2 --data ...   Scaled-IG: shared macro planes (stage1), new scenes cheaply (stage2)
  triplanes --data FAMILY          many independent Tri-Plane scenes (RGB or latent)
  data synth --family F --output D procedural scene families (objects, cars)
  methods                          list the registered methods
"""


def _fail(message: str, code: int = 2) -> int:
    print(f"latlas: error: {message}", file=sys.stderr)
    return code


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


def cmd_train(args: list[str]) -> int:
    import tyro

    from latent_atlas.errors import ConfigError
    from latent_atlas.methods.registry import METHOD_DESCRIPTIONS, METHODS, method_config
    from latent_atlas.training.config import TrainConfig
    from latent_atlas.training.run_dir import load_config

    resume, rest = _pop_option(args, "--resume")
    if resume is not None:
        saved = load_config(Path(resume))
        if rest and not rest[0].startswith("-"):
            if rest[0] != saved.method_name:
                raise ConfigError(f"--resume {resume}: the run is '{saved.method_name}', not '{rest[0]}'")
            rest = rest[1:]
        config = tyro.cli(TrainConfig, default=saved, args=rest, prog=f"latlas train --resume {resume}")
        config.resume = Path(resume)
    else:
        if not args or args[0] in ("-h", "--help"):
            print("usage: latlas train METHOD --data PATH [options]\n\nmethods:")
            for name in sorted(METHODS):
                print(f"  {name:16s} {METHOD_DESCRIPTIONS.get(name, '')}")
            return 0 if args else 2
        name = args[0]
        if name not in METHODS:
            raise ConfigError(f"unknown method '{name}' (known: {', '.join(sorted(METHODS))})")
        default = TrainConfig(method_name=name, method=method_config(name))
        config = tyro.cli(TrainConfig, default=default, args=args[1:], prog=f"latlas train {name}", description=METHOD_DESCRIPTIONS.get(name))
    from latent_atlas.training.trainer import Trainer

    try:
        run_dir = Trainer(config).train()
    except KeyboardInterrupt:
        return _fail("interrupted; a checkpoint was written, continue with --resume", 130)
    print(f"run folder: {run_dir}")
    return 0


def cmd_eval(args: list[str]) -> int:
    import json

    import tyro

    from latent_atlas.training.evaluate import EvalConfig, evaluate_run

    cfg = tyro.cli(EvalConfig, args=args, prog="latlas eval")
    result = evaluate_run(cfg)
    print(json.dumps(result["results"], indent=2))
    print(f"metrics: {cfg.output or cfg.run / 'eval' / 'metrics.json'}")
    return 0


def cmd_render(args: list[str]) -> int:
    import tyro

    from latent_atlas.training.orbit import RenderConfig, render_orbit

    print(f"orbit: {render_orbit(tyro.cli(RenderConfig, args=args, prog='latlas render'))}")
    return 0


def cmd_data(args: list[str]) -> int:
    import tyro

    from latent_atlas.data.synth.writer import SynthConfig, synthesize

    if not args or args[0] != "synth":
        return _fail("usage: latlas data synth [options] (see latlas data synth --help)")
    cfg = tyro.cli(SynthConfig, args=args[1:], prog="latlas data synth")
    folders = synthesize(cfg)
    print(f"wrote {len(folders)} scene(s) of family '{cfg.family}' to {cfg.output}")
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

    import tyro

    from latent_atlas.config_io import update_from_dict
    from latent_atlas.errors import DataError
    from latent_atlas.training.ae_trainer import AETrainConfig, AETrainer

    if not args or args[0] != "train":
        return _fail("usage: latlas ae train --data PATH [PATH ...] [options] (see latlas ae train --help)")
    resume, rest = _pop_option(args[1:], "--resume")
    default = AETrainConfig()
    if resume is not None:
        path = Path(resume) / "config.json"
        if not path.is_file():
            raise DataError(path, "not an autoencoder run folder (config.json not found)")
        default = update_from_dict(default, json.loads(path.read_text()))
    config = tyro.cli(AETrainConfig, default=default, args=_merge_repeated(rest, "--data"), prog="latlas ae train")
    if resume is not None:
        config.resume = Path(resume)
    try:
        run_dir = AETrainer(config).train()
    except KeyboardInterrupt:
        return _fail("interrupted; a checkpoint was written, continue with --resume", 130)
    print(json.dumps(json.loads((run_dir / "summary.json").read_text()), indent=2))
    print(f"autoencoder: {run_dir / 'autoencoder'} (pass --ae {run_dir})")
    print(f"run folder: {run_dir}")
    return 0


def _run_scaled(args: list[str], default_preset: str, prog: str) -> int:
    import json

    import tyro

    from latent_atlas.config_io import update_from_dict
    from latent_atlas.errors import ConfigError
    from latent_atlas.scaled.config import MultiSceneConfig
    from latent_atlas.scaled.presets import SCALED_PRESETS, scaled_preset

    preset, rest = _pop_option(args, "--preset")
    resume, rest = _pop_option(rest, "--resume")
    if resume is not None and (Path(resume) / "config.json").is_file():
        default = update_from_dict(MultiSceneConfig(), json.loads((Path(resume) / "config.json").read_text()))
    else:  # a new run (with --resume DIR: started in DIR, so that torchrun restarts resume it)
        try:
            default = scaled_preset(preset or default_preset)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    config = tyro.cli(MultiSceneConfig, default=default, args=_merge_repeated(rest, "--data"), prog=prog,
                      description=f"presets (--preset): {', '.join(SCALED_PRESETS)}")
    if resume is not None:
        config.resume = Path(resume)
    from latent_atlas.scaled.trainer import MultiSceneTrainer

    try:
        run_dir = MultiSceneTrainer(config).train()
    except KeyboardInterrupt:
        return _fail("interrupted; a checkpoint was written, continue with --resume", 130)
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


COMMANDS = {"train": cmd_train, "ae": cmd_ae, "igae": cmd_igae, "scale": cmd_scale, "triplanes": cmd_triplanes, "eval": cmd_eval, "render": cmd_render, "data": cmd_data, "methods": cmd_methods}


def main(argv: list[str] | None = None) -> int:
    """Runs `latlas` with argv (default sys.argv[1:]); returns the exit code."""
    from latent_atlas.errors import LatlasError

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command = COMMANDS.get(argv[0])
    if command is None:
        return _fail(f"unknown command '{argv[0]}' (known: {', '.join(COMMANDS)})")
    try:
        return command(argv[1:])
    except LatlasError as exc:
        return _fail(str(exc), exc.exit_code)


def entrypoint() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entrypoint()
