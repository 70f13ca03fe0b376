"""Views held on disk read back exactly as the tensors they were written from."""

from __future__ import annotations

import pytest
import torch

from latent_atlas.data.view_file import ViewFile


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float16, torch.float32, torch.bfloat16])
def test_views_read_back_as_written(tmp_path, dtype):
    file = ViewFile(tmp_path)
    first = (torch.rand(3, 5, 4, 2) * 200).to(dtype)
    images = (torch.rand(6, 5, 4, 2) * 200).to(dtype)
    file.store(first)  # a second store starts where the first ended
    views = file.store(images)
    assert len(views) == 6 and views.shape == images.shape and views.dtype == dtype
    assert torch.equal(views[0], images[0]) and torch.equal(views[5], images[5]) and torch.equal(views[-1], images[5])
    assert torch.equal(views[torch.tensor(2)], images[2])
    assert torch.equal(views[1:4], images[1:4]) and torch.equal(views[::2], images[::2]) and torch.equal(views[:], images)
    assert torch.equal(views[[4, 0, 4]], images[[4, 0, 4]]) and torch.equal(views[torch.tensor([3, 1])], images[torch.tensor([3, 1])])
    assert views[4:2].shape == (0, 5, 4, 2)
    with pytest.raises(IndexError):
        views[6]


def test_view_file_leaves_no_file_behind(tmp_path):
    file = ViewFile(tmp_path / "runs")
    views = file.store(torch.arange(24, dtype=torch.uint8).reshape(2, 3, 4))
    assert list((tmp_path / "runs").iterdir()) == []  # unlinked at once: the system frees it with the process
    assert views[1].flatten().tolist() == list(range(12, 24))
    file.close()
    with pytest.raises(OSError):
        views[0]
