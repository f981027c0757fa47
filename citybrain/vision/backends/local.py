"""In-process torch inference on CPU or CUDA: the default backend, and the reference the served
backends are checked against."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from citybrain.vision.backends.base import INPUT, OUTPUTS
from citybrain.vision.errors import BackendError, BackendUnavailable

log = logging.getLogger(__name__)


class LocalBackend:
    """Holds ready torch modules by contract name; `infer` batches straight through them."""

    name = "local"

    def __init__(
        self, models: dict[str, torch.nn.Module], device: str = "cpu", half: bool = False
    ) -> None:
        self.device = torch.device(device)
        self.dtype = torch.float16 if half and self.device.type == "cuda" else torch.float32
        self.models = {k: m.to(self.device, self.dtype).eval() for k, m in models.items()}

    def infer(
        self, model: str, inputs: Mapping[str, np.ndarray | torch.Tensor]
    ) -> dict[str, np.ndarray]:
        """Host arrays or, from the GPU preprocessing, device tensors (no round trip)."""
        module = self.models.get(model)
        if module is None or model not in OUTPUTS:
            raise BackendError(f"local backend has no model {model!r} ({sorted(self.models)})")
        if INPUT not in inputs:
            raise BackendError(f"{model}: missing input {INPUT!r}")
        given = inputs[INPUT]
        x = (
            given
            if isinstance(given, torch.Tensor)
            else torch.from_numpy(np.ascontiguousarray(given))
        )
        try:
            with torch.inference_mode():
                y: Any = module(x.to(self.device, self.dtype, non_blocking=True))
        except torch.OutOfMemoryError as e:
            # The device is full now (another process, a big batch): the frames are fine and
            # wait for a retry with back-off, as for a server that is down.
            torch.cuda.empty_cache()
            raise BackendUnavailable(f"{model}: out of device memory") from e
        except (RuntimeError, ValueError) as e:
            raise BackendError(f"{model}: {e}") from e
        if isinstance(y, list | tuple):  # YOLO's Detect head returns (y, features) in eval mode
            y = y[0]
        return {OUTPUTS[model]: y.float().cpu().numpy()}

    def close(self) -> None:
        self.models.clear()


def load_detector(
    path: Path, config_dir: Path = Path("var/ultralytics"), trust_pickle: bool = False
) -> tuple[torch.nn.Module, dict[int, str]]:
    """The DetectionModel of an ultralytics .pt (trained), original YOLOv5 weights (anchor head,
    plain tensors) or a .yaml (untrained, seeded), in eval mode and fused, with its class
    names (a YAML's `names` list wins)."""
    from citybrain.vision.detector import load_yolo

    yolo, names = load_yolo(path, config_dir, trust_pickle)
    model = yolo.model
    assert isinstance(model, torch.nn.Module)
    model = model.float().eval()
    try:
        model = model.fuse()
    except (AttributeError, RuntimeError) as e:  # fusing is an optimisation, never required
        log.info("detector not fused: %s", e)
    for p in model.parameters():
        p.requires_grad_(False)
    return model, names
