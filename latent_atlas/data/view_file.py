"""Views held on disk instead of in memory: a scene set's images written once to a file and read back per view.

Reads use preadv, not a memory map, so the file's pages are not counted in the process's resident memory: what a
run holds per scene is then mostly its parameters and optimiser state (multi-scene `--views disk`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from torch import Tensor

from latent_atlas.data.scene import SceneData


class ViewFile:
    """An unlinked temporary file that images are appended to; the system removes it when the process ends (even
    when killed), since no name points to it."""

    def __init__(self, folder: Path):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.fd, path = tempfile.mkstemp(prefix=".latlas-views-", dir=folder)
        os.unlink(path)
        self.size = 0  # bytes written

    def store(self, images: Tensor) -> ViewsOnDisk:
        """Appends images [N, ...] (any dtype) -> a handle that reads them back by view."""
        data = images.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes()
        written = 0
        while written < len(data):
            written += os.pwrite(self.fd, data[written:], self.size + written)
        views = ViewsOnDisk(self, self.size, tuple(images.shape), images.dtype)
        self.size += len(data)
        return views

    def read_into(self, out: Tensor, offset: int) -> Tensor:
        """Fills the contiguous CPU tensor `out` with its size in bytes from `offset`, straight into its memory (no
        intermediate bytes object); returns `out`."""
        target = memoryview(out.view(torch.uint8).numpy()).cast("B") if out.numel() else memoryview(b"")
        done = 0
        while done < len(target):
            if hasattr(os, "preadv"):
                count = os.preadv(self.fd, [target[done:]], offset + done)
            else:  # no preadv (some platforms): read, then copy
                chunk = os.pread(self.fd, len(target) - done, offset + done)
                target[done : done + len(chunk)] = chunk
                count = len(chunk)
            if count == 0:
                raise OSError(f"view file ended at byte {offset + done} of {offset + len(target)}")
            done += count
        return out

    def hold(self, scene: SceneData) -> None:
        """Moves every split's images of `scene` into this file (splits already on disk stay as they are)."""
        for split in scene.splits.values():
            if isinstance(split.images, Tensor):
                split.images = self.store(split.images)

    def close(self) -> None:
        """Closes the file (its space is freed; the views of it can no longer be read)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:
        self.close()


class ViewsOnDisk:
    """Images [N, ...] of one split in a ViewFile; indexing (an int, a slice, a list or a 1-D tensor of view
    indices) reads the selected views back as a tensor, as indexing the images in memory would."""

    def __init__(self, file: ViewFile, offset: int, shape: tuple[int, ...], dtype: torch.dtype):
        self.file, self.offset, self.shape, self.dtype = file, offset, torch.Size(shape), dtype
        self.view_bytes = self.shape[1:].numel() * torch.empty((), dtype=dtype).element_size()

    def __len__(self) -> int:
        return self.shape[0]

    def _views(self, first: int, count: int) -> Tensor:
        """Views [first, first + count) -> [count, ...]."""
        out = torch.empty((count, *self.shape[1:]), dtype=self.dtype)
        return self.file.read_into(out, self.offset + first * self.view_bytes) if count else out

    def __getitem__(self, index) -> Tensor:
        n = self.shape[0]
        if isinstance(index, int) or (isinstance(index, Tensor) and index.ndim == 0):
            i = int(index)
            if not -n <= i < n:
                raise IndexError(f"view {i} of {n}")
            return self._views(i % n, 1)[0]
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step == 1:
                return self._views(start, max(0, stop - start))
            index = list(range(start, stop, step))
        indices = index.tolist() if isinstance(index, Tensor) else list(index)
        if not indices:
            return self._views(0, 0)
        return torch.stack([self[int(i)] for i in indices])
