"""Checkpoints: safetensors for tensors + JSON for the rest, each written atomically.

A checkpoint `step-0001000` is two files; the JSON is written last, so a checkpoint
counts only once both exist. The latest complete one is what a run resumes from.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from latent_atlas.config_io import save_json_atomic
from latent_atlas.errors import CheckpointWriteError, DataError

_NAME = re.compile(r"^step-(\d+)\.json$")


def checkpoint_name(step: int) -> str:
    return f"step-{step:07d}"


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB chunks: a few MiB of memory whatever the file's size)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


SAFETENSORS_DTYPES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def write_safetensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Writes `tensors` as a safetensors file, each tensor's bytes straight from its memory (a GPU tensor through
    one CPU copy at a time): safetensors' own save_file first copies every tensor into one bytes object, a second
    copy of the whole state while it writes."""
    header, offset = {}, 0
    for name, t in tensors.items():
        if t.dtype not in SAFETENSORS_DTYPES:
            raise TypeError(f"{name}: dtype {t.dtype} has no safetensors name")
        size = t.numel() * t.element_size()
        header[name] = {"dtype": SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the data starts 8-byte aligned, as safetensors' own writer pads it
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for t in tensors.values():
            if t.numel():
                f.write(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().data)


def save_checkpoint(folder: Path, step: int, tensors: dict[str, torch.Tensor], state: dict[str, Any], keep: int = 2, keep_forever: bool = False) -> Path:
    """Writes folder/step-XXXXXXX.{safetensors,json} atomically and prunes all but the `keep` newest.

    The JSON, written last, records the tensors file's size and SHA-256, so that a file cut short or
    damaged later is recognised. Checkpoints saved with `keep_forever` are never pruned. A failed write
    (disk full) raises CheckpointWriteError naming the path and leaves the earlier checkpoints as they were.
    """
    name = checkpoint_name(step)
    tensor_path = folder / f"{name}.safetensors"
    tmp = folder / f".{name}.safetensors.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_safetensors(tmp, tensors)
        with tmp.open("rb+") as f:
            os.fsync(f.fileno())
        checksum = {"tensors_bytes": tmp.stat().st_size, "tensors_sha256": file_sha256(tmp)}
        tmp.replace(tensor_path)
        save_json_atomic(folder / f"{name}.json", {"step": step, "tensors": tensor_path.name, "keep_forever": keep_forever, **checksum, **state})
    except Exception as exc:  # OSError, or safetensors' own error wrapping one (no space left, file too large)
        tmp.unlink(missing_ok=True)
        tensor_path.unlink(missing_ok=True)
        before = latest_checkpoint(folder)
        kept = f"the previous checkpoint {before.name} is intact" if before else "no earlier checkpoint exists"
        raise CheckpointWriteError(f"{tensor_path}: cannot write checkpoint ({_reason(exc)}); {kept}") from None
    prune_checkpoints(folder, keep)
    return tensor_path


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    io_error = re.search(r"I/O error: (.*?) \(os error \d+\)", text)  # safetensors wraps the OS error
    return (io_error.group(1) if io_error else text)[:120]


def prune_checkpoints(folder: Path, keep: int) -> None:
    """Deletes all but the `keep` newest complete checkpoints (keep_forever ones stay; keep 0: all stay), and
    leftovers of killed writes or prunes: temporary files and tensors files whose JSON is gone."""
    complete = list_checkpoints(folder)
    prunable = [p for p in complete if not _kept_forever(p)]
    for old in prunable[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)  # the JSON first: a kill here leaves an orphan tensors file, removed below
        old.with_suffix(".safetensors").unlink(missing_ok=True)
    for path in folder.iterdir():
        orphan = path.suffix == ".safetensors" and not path.with_suffix(".json").exists()
        if orphan or (path.name.startswith(".step-") and path.name.endswith(".tmp")):
            path.unlink(missing_ok=True)


def _kept_forever(json_path: Path) -> bool:
    """Whether a checkpoint was saved with keep_forever (an unreadable JSON is not: it may be pruned)."""
    try:
        return bool(json.loads(json_path.read_text()).get("keep_forever"))
    except (OSError, ValueError, AttributeError):
        return False


def list_checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints (JSON + tensors) in `folder`, oldest first, as paths of their JSON files."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match and path.with_suffix(".safetensors").is_file():
            found.append((int(match.group(1)), path))
    return [p for _, p in sorted(found)]


def latest_checkpoint(folder: Path) -> Path | None:
    """JSON path of the newest complete checkpoint, or None."""
    found = list_checkpoints(folder)
    return found[-1] if found else None


def load_checkpoint(json_path: Path, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, state) of the checkpoint whose JSON is `json_path` (DataError naming the file when unreadable)."""
    try:
        state = json.loads(json_path.read_text())
        if not isinstance(state, dict) or not isinstance(state.get("step"), int) or isinstance(state.get("step"), bool):
            raise ValueError("no integer 'step'")
    except (OSError, ValueError, RecursionError) as exc:
        raise DataError(json_path, f"unreadable checkpoint ({str(exc).splitlines()[0][:120]})") from None
    tensor_path = json_path.with_suffix(".safetensors")
    if "tensors_bytes" in state:  # older checkpoints have no checksum
        try:
            size = tensor_path.stat().st_size
        except OSError:
            raise DataError(tensor_path, "checkpoint tensors file is missing") from None
        if size != state["tensors_bytes"]:
            raise DataError(tensor_path, f"checkpoint cut short or damaged ({size} bytes, {state['tensors_bytes']} written)")
        if file_sha256(tensor_path) != state.get("tensors_sha256"):
            raise DataError(tensor_path, "checkpoint damaged (its SHA-256 differs from the one recorded at writing)")
    try:
        tensors = load_file(str(tensor_path), device=str(device))
    except Exception as exc:  # safetensors raises its own error types for truncated or foreign files
        raise DataError(tensor_path, f"unreadable checkpoint ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    return tensors, state


def load_latest(folder: Path, device: str | torch.device = "cpu") -> tuple[Path, dict[str, torch.Tensor], dict[str, Any]] | None:
    """(JSON path, tensors, state) of the newest readable checkpoint in `folder`, or None when there is none.

    An unreadable newer checkpoint (cut short by a full disk, say) is renamed to *.corrupt, with a warning,
    and the one before it is used.
    """
    for path in reversed(list_checkpoints(folder)):
        try:
            tensors, state = load_checkpoint(path, device)
        except DataError as exc:
            print(f"latlas: warning: {exc}; set aside as *.corrupt, trying the checkpoint before it", file=sys.stderr)
            for part in (path, path.with_suffix(".safetensors")):
                if part.exists():
                    part.replace(part.with_name(part.name + ".corrupt"))
            continue
        return path, tensors, state
    return None


def tensors_under(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint named `prefix...`, by their names after the prefix (e.g. 'model.' -> a state dict)."""
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def flatten_optimizer(prefix: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimizer state as flat tensors (`prefix.i.key`) plus its JSON-able param groups."""
    sd = optimizer.state_dict()
    tensors = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, slots in sd["state"].items():
        for key, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def restore_optimizer(prefix: str, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Inverse of flatten_optimizer."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            index, slot = key[len(prefix) + 1 :].split(".", 1)
            state.setdefault(int(index), {})[slot] = value
    for index, slots in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(slots)
    kernels = [{k: group[k] for k in ("fused", "foreach") if k in group} for group in optimizer.param_groups]
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    for group, kernel in zip(optimizer.param_groups, kernels):  # how it steps stays as built (an older run's may differ)
        group.update(kernel)
