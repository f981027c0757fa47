"""The interface every inference backend implements, and the model contracts they share.

Contracts (names, layouts and dtypes are the same on every backend):

- ``detector``: input ``images`` float32 [N, 3, S, S], RGB 0..1, letterboxed (S = vision.imgsz);
  output ``output0`` float32 [N, 4 + nc, A], the raw YOLO head (xywh in input pixels, then class
  scores), as ultralytics' DetectionModel returns it in eval mode.
- ``clip_image``: input ``images`` float32 [N, 3, 224, 224], CLIP-normalised; output
  ``embeddings`` float32 [N, D], L2-normalised.

An exported ``detector`` also carries its class names (``labels`` parameter of its config).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

DETECTOR = "detector"
CLIP_IMAGE = "clip_image"
INPUT = "images"
OUTPUTS = {DETECTOR: "output0", CLIP_IMAGE: "embeddings"}
LABELS_PARAMETER = "labels"  # config.pbtxt parameter: the detector's class names, JSON list


class InferenceBackend(Protocol):
    name: str

    def infer(self, model: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run `model` on a batch; raises BackendUnavailable (retry) or BackendError."""
        ...

    def close(self) -> None: ...
