"""Backend choices that need no server or GPU: which addresses can share memory with Triton,
and which local failures are worth a retry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from citybrain.config.vision import TritonSettings
from citybrain.vision.backends.base import DETECTOR, INPUT
from citybrain.vision.backends.local import LocalBackend
from citybrain.vision.backends.triton import for_target, on_this_host
from citybrain.vision.errors import BackendUnavailable


@pytest.mark.parametrize(
    ("target", "local"),
    [
        ("127.0.0.1:8001", True),
        ("localhost:8001", True),
        ("[::1]:8001", True),
        ("triton.vision.svc:8001", False),
        ("10.0.0.5:8001", False),
    ],
)
def test_only_loopback_addresses_share_memory(target: str, local: bool) -> None:
    assert on_this_host(target) is local
    assert for_target(TritonSettings(shared_memory=True), target).shared_memory is local
    assert for_target(TritonSettings(shared_memory=False), target).shared_memory is False


class _DeviceFull(torch.nn.Module):
    """Raises what torch raises when the GPU is full (no GPU here to fill for real)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_out_of_device_memory_is_retried_later_not_dead_lettered() -> None:
    backend = LocalBackend({DETECTOR: _DeviceFull()})
    with pytest.raises(BackendUnavailable, match="out of device memory"):
        backend.infer(DETECTOR, {INPUT: np.zeros((1, 3, 32, 32), np.float32)})
