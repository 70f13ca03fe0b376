"""Bytes that autograd keeps for the backward pass: a device-independent measure of activation memory."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor


class SavedActivationMeter:
    """Context manager summing the distinct storages saved for backward inside it, parameters excluded.

    `with SavedActivationMeter(model.parameters()) as meter: loss = forward(); loss.backward()`
    then `meter.bytes`. Unlike process RSS (CPU) it counts neither optimiser state nor allocator
    caching, so CPU and GPU runs give the same number for the same step.
    """

    def __init__(self, parameters: Iterable[Tensor] = ()):
        self._excluded = {p.untyped_storage().data_ptr() for p in parameters}
        self._seen: set[int] = set()
        self.bytes = 0
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)

    def _pack(self, tensor: Tensor) -> Tensor:
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if key not in self._excluded and key not in self._seen:
            self._seen.add(key)
            self.bytes += storage.nbytes()
        return tensor

    def __enter__(self) -> SavedActivationMeter:
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)
