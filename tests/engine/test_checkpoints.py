"""Checkpoints survive damage and full disks: checksums, orphan clean-up, one-line write failures."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from latent_atlas.engine.checkpoints import list_checkpoints, load_checkpoint, load_latest, save_checkpoint
from latent_atlas.errors import DataError


def _tensors(n: int = 256) -> dict[str, torch.Tensor]:
    return {"w": torch.arange(n, dtype=torch.float32)}


def test_flipped_byte_is_caught_by_the_checksum(tmp_path):
    save_checkpoint(tmp_path, 1, _tensors(), {})
    path = save_checkpoint(tmp_path, 2, {"w": _tensors()["w"] * 2}, {})
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # same size, one bit pattern changed: only a hash sees it
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="SHA-256"):
        load_checkpoint(path.with_suffix(".json"))
    json_path, tensors, state = load_latest(tmp_path)
    assert state["step"] == 1 and torch.equal(tensors["w"], _tensors()["w"])
    assert (tmp_path / "step-0000002.safetensors.corrupt").is_file()


def test_leftovers_of_killed_writes_and_prunes_are_removed(tmp_path):
    save_checkpoint(tmp_path, 1, _tensors(), {})
    (tmp_path / "step-0000000.safetensors").write_bytes(b"orphan: its JSON was pruned before a kill")
    (tmp_path / ".step-0000005.safetensors.tmp").write_bytes(b"half written")
    save_checkpoint(tmp_path, 2, _tensors(), {}, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"step-000000{i}.{s}" for i in (1, 2) for s in ("json", "safetensors")]
    save_checkpoint(tmp_path, 3, _tensors(), {}, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-0000002.json", "step-0000003.json"]


def test_full_disk_is_one_line_and_keeps_the_previous_checkpoint(tmp_path):
    """RLIMIT_FSIZE makes the second, larger write fail as a full disk would (EFBIG instead of ENOSPC)."""
    script = textwrap.dedent(
        f"""
        import resource, sys, torch
        from pathlib import Path
        from latent_atlas.engine.checkpoints import save_checkpoint
        from latent_atlas.errors import CheckpointWriteError
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        folder = Path({str(tmp_path)!r})
        save_checkpoint(folder, 1, {{"w": torch.zeros(1000)}}, {{}})
        try:
            save_checkpoint(folder, 2, {{"w": torch.zeros(100_000)}}, {{}})
        except CheckpointWriteError as exc:
            print(exc)
            sys.exit(exc.exit_code)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 4, proc.stderr
    message = proc.stdout.strip()
    assert message.count("\n") == 0 and "step-0000002.safetensors: cannot write checkpoint (File too large)" in message
    assert "step-0000001.json is intact" in message
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-0000001.json"]
    assert not list(tmp_path.glob(".*tmp")) and not (tmp_path / "step-0000002.safetensors").exists()
    _, tensors, _ = load_latest(tmp_path)
    assert tensors["w"].shape == (1000,)


def test_checkpoint_tensors_file_is_safetensors_that_safetensors_reads(tmp_path):
    """write_safetensors (tensors written from their own memory, no copy of the whole state) makes files that
    safetensors' reader takes, with every dtype, shape, and value as written."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    from latent_atlas.engine.checkpoints import SAFETENSORS_DTYPES, write_safetensors

    tensors = {f"t.{dtype}".replace("torch.", ""): (torch.rand(3, 5) * 100).to(dtype) for dtype in SAFETENSORS_DTYPES}
    tensors.update(
        scalar=torch.tensor(2.5),
        empty=torch.zeros(0, 4),
        strided=torch.arange(24.0).reshape(4, 6)[:, ::2],  # not contiguous
        odd=torch.arange(3, dtype=torch.uint8),  # 3 bytes: the next tensor starts unaligned
        after_odd=torch.arange(5, dtype=torch.int64),
    )
    write_safetensors(tmp_path / "a.safetensors", tensors)
    loaded = load_file(str(tmp_path / "a.safetensors"))
    assert loaded.keys() == tensors.keys()
    for name, value in tensors.items():
        assert loaded[name].dtype == value.dtype and torch.equal(loaded[name], value), name
    with safe_open(str(tmp_path / "a.safetensors"), "pt") as f:
        assert torch.equal(f.get_slice("strided")[1:3], tensors["strided"][1:3])
    with pytest.raises(TypeError, match="complex"):
        write_safetensors(tmp_path / "b.safetensors", {"complex": torch.zeros(2, dtype=torch.complex64)})
