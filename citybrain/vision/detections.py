"""One value type for detector output, so parsing a model's result is pure and testable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Detections:
    """Boxes normalised to the frame (x1, y1, x2, y2 in 0..1), with confidences and class names."""

    xyxyn: np.ndarray  # (N, 4) float32
    confidence: np.ndarray  # (N,) float32
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.class_names)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), ())

    @classmethod
    def from_ultralytics(cls, result: Any, names: dict[int, str]) -> Detections:
        """From one ultralytics Results (NMS already applied by the library)."""
        boxes = result.boxes
        if boxes is None or len(boxes) == 0:
            return cls.empty()
        cls_ids = boxes.cls.cpu().numpy().astype(int)
        return cls(
            xyxyn=boxes.xyxyn.cpu().numpy().astype(np.float32),
            confidence=boxes.conf.cpu().numpy().astype(np.float32),
            class_names=tuple(names.get(int(i), str(i)) for i in cls_ids),
        )

    @classmethod
    def from_xyxy(
        cls,
        xyxy: np.ndarray,
        confidence: np.ndarray,
        class_ids: np.ndarray,
        names: dict[int, str],
        width: int,
        height: int,
    ) -> Detections:
        """From frame-pixel boxes, as a decoder that ran its own NMS has them."""
        if len(xyxy) == 0:
            return cls.empty()
        scale = np.array([width, height, width, height], np.float32)
        return cls(
            xyxyn=(np.asarray(xyxy, np.float32) / scale).astype(np.float32),
            confidence=np.asarray(confidence, np.float32),
            class_names=tuple(names.get(int(i), str(int(i))) for i in class_ids),
        )
