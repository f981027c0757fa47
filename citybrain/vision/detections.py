"""One value type for detector output, so parsing a model's result is pure and testable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Detections:
    """Boxes normalised to the frame (x1, y1, x2, y2 in 0..1), confidences, the model's class
    ids with its class list, and after tracking the track each box belongs to.

    Class ids stay ids the whole way (tracker, zone rules) and become names only where a
    message is written: `class_names`. Index with a boolean mask or index array to select."""

    xyxyn: np.ndarray  # (N, 4) float32
    confidence: np.ndarray  # (N,) float32
    class_id: np.ndarray  # (N,) int64
    names: Mapping[int, str] = field(default_factory=dict)
    tracker_id: np.ndarray | None = None  # (N,) int64, NO_TRACK where no track holds it

    def __post_init__(self) -> None:
        n = len(self.confidence)
        if self.xyxyn.shape != (n, 4) or self.class_id.shape != (n,):
            raise ValueError(
                f"Detections of {n} boxes need xyxyn (N, 4) and class_id (N,), got "
                f"{self.xyxyn.shape} and {self.class_id.shape}"
            )
        if self.tracker_id is not None and self.tracker_id.shape != (n,):
            raise ValueError(f"tracker_id {self.tracker_id.shape} does not fit {n} boxes")

    def __len__(self) -> int:
        return len(self.confidence)

    def __getitem__(self, index: np.ndarray | slice) -> Detections:
        return replace(
            self,
            xyxyn=self.xyxyn[index],
            confidence=self.confidence[index],
            class_id=self.class_id[index],
            tracker_id=None if self.tracker_id is None else self.tracker_id[index],
        )

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.names.get(int(i), str(int(i))) for i in self.class_id)

    def with_tracker_ids(self, tracker_id: np.ndarray) -> Detections:
        return replace(self, tracker_id=np.asarray(tracker_id, np.int64))

    def class_mask(self, classes: frozenset[str]) -> np.ndarray:
        """Which boxes are of one of the named classes."""
        ids = [i for i, name in self.names.items() if name in classes]
        return np.isin(self.class_id, ids)

    @classmethod
    def empty(cls, names: Mapping[int, str] | None = None) -> Detections:
        return cls(
            np.zeros((0, 4), np.float32),
            np.zeros((0,), np.float32),
            np.zeros((0,), np.int64),
            dict(names or {}),
        )

    @classmethod
    def from_named(
        cls, xyxyn: np.ndarray, confidence: np.ndarray, class_names: Sequence[str]
    ) -> Detections:
        """From boxes labelled by name (ground truth, a renamed model's output): the class list
        is the names in order of first appearance."""
        names: dict[str, int] = {}
        ids = [names.setdefault(c, len(names)) for c in class_names]
        return cls(
            np.asarray(xyxyn, np.float32).reshape(-1, 4),
            np.asarray(confidence, np.float32).reshape(-1),
            np.asarray(ids, np.int64).reshape(-1),
            {i: c for c, i in names.items()},
        )

    @classmethod
    def from_ultralytics(cls, result: Any, names: dict[int, str]) -> Detections:
        """From one ultralytics Results (NMS already applied by the library)."""
        boxes = result.boxes
        if boxes is None or len(boxes) == 0:
            return cls.empty(names)
        return cls(
            xyxyn=boxes.xyxyn.cpu().numpy().astype(np.float32),
            confidence=boxes.conf.cpu().numpy().astype(np.float32),
            class_id=boxes.cls.cpu().numpy().astype(np.int64),
            names=names,
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
            return cls.empty(names)
        scale = np.array([width, height, width, height], np.float32)
        return cls(
            xyxyn=(np.asarray(xyxy, np.float32) / scale).astype(np.float32),
            confidence=np.asarray(confidence, np.float32),
            class_id=np.asarray(class_ids, np.int64),
            names=names,
        )
