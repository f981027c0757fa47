"""People and vehicles marked on real photos by the COCO detector, as training labels.

The real photo sets label only their own subject (a pothole, a fire); the cars and people in
them are unlabelled, and a detector trained on them as they are learns that a car is
background. The COCO-trained detector marks them instead. Only boxes at or above `min_conf`
are kept: a missed car costs less than a bin taught as a car. The COCO classes kept and their
names here are `COCO_TO_CITY`; a target the detector does not have is refused at start, so a
pseudo-label never invents a class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from citybrain.vision.detections import Detections
from citybrain.vision.training_data import Box

COCO_TO_CITY: Mapping[str, str] = {
    "person": "person",
    "car": "vehicle",
    "motorcycle": "vehicle",
    "bus": "vehicle",
    "truck": "vehicle",
}
PSEUDO_IMGSZ = (
    448  # below the COCO model's 640 for speed on CPU; people over ~20 px tall are still found
)


def keep_boxes(
    det: Detections,
    names: Sequence[str],
    min_conf: float,
    mapping: Mapping[str, str] = COCO_TO_CITY,
) -> tuple[list[str], list[Box]]:
    """The detections worth a label, renamed to the detector's classes."""
    classes: list[str] = []
    boxes: list[Box] = []
    for name, conf, box in zip(det.class_names, det.confidence, det.xyxyn, strict=True):
        target = mapping.get(name)
        if target is None or target not in names or float(conf) < min_conf:
            continue
        x1, y1, x2, y2 = (float(v) for v in np.clip(box, 0.0, 1.0))
        classes.append(target)
        boxes.append((x1, y1, x2, y2))
    return classes, boxes


class PseudoLabeller:
    def __init__(
        self,
        detect: Callable[[list[np.ndarray]], list[Detections]],
        names: Sequence[str],
        min_conf: float,
        mapping: Mapping[str, str] = COCO_TO_CITY,
    ) -> None:
        unknown = sorted(set(mapping.values()) - set(names))
        if unknown:
            raise ValueError(f"pseudo-label classes the detector lacks: {unknown}")
        self.detect = detect
        self.names = list(names)
        self.min_conf = min_conf
        self.mapping = mapping

    @classmethod
    def load(
        cls, coco_weights: Path, names: Sequence[str], min_conf: float, config_dir: Path
    ) -> PseudoLabeller:
        from citybrain.config.vision import VisionSettings
        from citybrain.vision.detector import Detector

        settings = VisionSettings(
            model=coco_weights, imgsz=PSEUDO_IMGSZ, conf_threshold=min_conf, batch_size=16
        )
        return cls(Detector.load(settings, config_dir).detect, names, min_conf)

    def label(self, images: Sequence[Path]) -> list[tuple[list[str], list[Box]]]:
        import cv2

        frames = []
        for path in images:  # read_source kept only readable ones; a file gone since is an error
            img = cv2.imread(str(path))
            if img is None:
                raise ValueError(f"{path}: not a readable image")
            frames.append(img)
        dets = self.detect(frames)
        return [keep_boxes(d, self.names, self.min_conf, self.mapping) for d in dets]
