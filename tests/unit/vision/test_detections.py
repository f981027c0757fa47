"""Detections parsing from a real ultralytics Results object built on fixture tensors."""

import numpy as np
import torch
from ultralytics.engine.results import Results

from citybrain.vision.detections import Detections


def test_from_ultralytics_normalises_and_names() -> None:
    boxes = torch.tensor([[32.0, 18.0, 64.0, 54.0, 0.9, 2.0], [0.0, 0.0, 16.0, 9.0, 0.4, 0.0]])
    result = Results(
        np.zeros((90, 160, 3), np.uint8), path="x.jpg", names={0: "a", 1: "b", 2: "c"}, boxes=boxes
    )
    d = Detections.from_ultralytics(result, {0: "vehicle", 2: "pothole"})
    assert d.class_names == ("pothole", "vehicle")
    np.testing.assert_allclose(d.xyxyn[0], [0.2, 0.2, 0.4, 0.6], atol=1e-6)
    np.testing.assert_allclose(d.confidence, [0.9, 0.4], atol=1e-6)


def test_empty_result() -> None:
    result = Results(
        np.zeros((10, 10, 3), np.uint8), path="x.jpg", names={0: "a"}, boxes=torch.zeros((0, 6))
    )
    assert len(Detections.from_ultralytics(result, {0: "a"})) == 0
