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


def test_class_ids_stay_ids_and_a_mask_selects_boxes_with_their_tracks() -> None:
    import pytest

    d = Detections.from_xyxy(
        np.array([[0, 0, 10, 10], [5, 5, 20, 20], [1, 1, 2, 2]], np.float32),
        np.array([0.9, 0.8, 0.7], np.float32),
        np.array([2, 0, 2]),
        {0: "vehicle", 1: "person", 2: "pothole"},
        20,
        20,
    ).with_tracker_ids(np.array([4, -1, 9]))
    assert d.class_id.tolist() == [2, 0, 2] and d.class_names == ("pothole", "vehicle", "pothole")
    potholes = d[d.class_id == 2]
    assert len(potholes) == 2 and potholes.tracker_id is not None
    assert potholes.tracker_id.tolist() == [4, 9]
    np.testing.assert_allclose(potholes.xyxyn[1], [0.05, 0.05, 0.1, 0.1])
    assert d.class_mask(frozenset({"vehicle", "person"})).tolist() == [False, True, False]
    named = Detections.from_named(d.xyxyn, d.confidence, d.class_names)
    assert named.class_names == d.class_names and named.class_id.tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="class_id"):
        Detections(d.xyxyn, d.confidence, d.class_id[:2], d.names)
