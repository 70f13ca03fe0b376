"""Config dataclasses <-> JSON, so a run's full config is saved with it and reloaded."""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from pathlib import Path
from typing import Any


def to_jsonable(value: Any) -> Any:
    """A dataclass (nested) as plain JSON values; paths become strings, tuples lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _convert(value: Any, hint: Any) -> Any:
    """Converts a JSON value to the annotated type where JSON loses it (Path, tuple)."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if hint is bool or hint is str:
        if not isinstance(value, hint):
            raise ValueError(f"expected {hint.__name__}, found {json.dumps(value)[:40]}")
        return value
    if hint is int or hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (hint is int and value != int(value)):
            raise ValueError(f"expected {'an integer' if hint is int else 'a number'}, found {json.dumps(value)[:40]}")
        return hint(value)
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            raise ValueError(f"expected one of {', '.join(map(str, typing.get_args(hint)))}, found {json.dumps(value)[:40]}")
        return value
    if origin is typing.Annotated:
        return _convert(value, typing.get_args(hint)[0])
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arg in typing.get_args(hint):
            if arg is not type(None):
                try:
                    return _convert(value, arg)
                except ValueError as exc:
                    errors.append(str(exc))
        raise ValueError(errors[0] if errors else f"unexpected {json.dumps(value)[:40]}")
    if hint is Path or (isinstance(hint, type) and issubclass(hint, Path)):
        return Path(value)
    if origin is tuple:
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return tuple(_convert(v, item) for v in value)
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):  # e.g. the items of a tuple of phases
        return update_from_dict(hint(), value)
    return value


def update_from_dict(default: Any, data: dict) -> Any:
    """A copy of dataclass `default` with the values of `data` (nested dataclasses and dicts of them follow the default's types)."""
    hints = typing.get_type_hints(type(default), include_extras=True)
    changes = {}
    for f in dataclasses.fields(default):
        if f.name not in data:
            continue
        current, value = getattr(default, f.name), data[f.name]
        if dataclasses.is_dataclass(current):
            changes[f.name] = update_from_dict(current, value)
        elif isinstance(current, dict) and current and all(dataclasses.is_dataclass(v) for v in current.values()):
            template = next(iter(current.values()))
            changes[f.name] = {k: update_from_dict(current.get(k, template), v) for k, v in value.items()}
        else:
            try:
                changes[f.name] = _convert(value, hints.get(f.name, Any))
            except ValueError as exc:
                raise ValueError(f"'{f.name}': {exc}") from None
    return dataclasses.replace(default, **changes)


def save_json_atomic(path: Path, data: Any) -> None:
    """Writes JSON to `path` through a synced temporary file and a rename (on failure `path` is left as it was)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w") as f:
            f.write(json.dumps(data, indent=2))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
