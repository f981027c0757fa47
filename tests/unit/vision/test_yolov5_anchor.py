"""Original YOLOv5 weights (anchor head): the head's arithmetic on a fixture, and with the COCO
checkpoint from ../shared, real people and vehicles found through both inference paths."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import torch

from citybrain.config.vision import VisionSettings
from citybrain.vision.backends.local import LocalBackend, load_detector
from citybrain.vision.detector import Detector
from citybrain.vision.export import RawDetectorHead
from citybrain.vision.heads.yolo import decode_yolo
from citybrain.vision.preprocess import make_buffer, preprocess_yolo
from citybrain.vision.yolov5_anchor import AnchorDetect, is_anchor_checkpoint
from tests.shared_data import COCO_YOLOV5N, DATASETS, require

VEHICLES = {"car", "truck", "bus", "motorcycle"}


def test_anchor_head_decodes_like_yolov5() -> None:
    # One level (stride 8) of 1x2 cells, one anchor of 2x1 strides, two classes; all logits 0
    # (sigmoid 0.5) except the second cell's class-1 logit.
    head = AnchorDetect(2, torch.tensor([[[2.0, 1.0]]]), [4], [8.0])
    conv = head.m[0]
    assert isinstance(conv, torch.nn.Conv2d)
    torch.nn.init.zeros_(conv.weight)
    torch.nn.init.zeros_(conv.bias)
    x = torch.zeros(1, 4, 1, 2)
    x[0, 0, 0, 1] = 1.0
    conv.weight.data[6, 0] = 10.0  # channel 5 + 1: class 1, driven by input channel 0
    with torch.no_grad():
        y, maps = head([x])
    assert y.shape == (1, 4 + 2, 2) and len(maps) == 1
    # xy = (2*0.5 - 0.5 + grid) * 8; wh = (2*0.5)^2 * anchor * 8; score = obj * cls
    np.testing.assert_allclose(y[0, :4, 0], [4.0, 4.0, 16.0, 8.0])
    np.testing.assert_allclose(y[0, :4, 1], [12.0, 4.0, 16.0, 8.0])
    np.testing.assert_allclose(y[0, 4:, 0], [0.25, 0.25])
    np.testing.assert_allclose(y[0, 5, 1], 0.5 * torch.sigmoid(torch.tensor(10.0)), rtol=1e-6)


def test_an_ultralytics_checkpoint_is_not_taken_for_an_anchor_one(tmp_path: Path) -> None:
    assert not is_anchor_checkpoint(Path("models/demo/citybrain-yolov8n.yaml"))
    assert not is_anchor_checkpoint(Path("models/demo/citybrain-yolov5n-city.pt"))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    assert not is_anchor_checkpoint(junk)


def _photos() -> list[np.ndarray]:
    """Pothole photos with people and cars on them (street scenes)."""
    folder = require(DATASETS / "pothole" / "images")
    paths = sorted(folder.glob("*.jpg"))[:12]
    return [img for img in (cv2.imread(str(p)) for p in paths) if img is not None]


def test_coco_anchor_weights_find_people_and_vehicles_on_real_photos() -> None:
    weights = require(COCO_YOLOV5N)
    assert is_anchor_checkpoint(weights)
    frames = _photos()
    settings = VisionSettings(model=weights, imgsz=640, conf_threshold=0.3, iou_threshold=0.45)
    detector = Detector.load(settings)
    found = detector.detect(frames)
    names = {n for d in found for n in d.class_names}
    assert "person" in names and names & VEHICLES, names

    # The served path (numba letterbox -> local torch -> one decoder) finds the same objects.
    model, labels = load_detector(weights)
    backend = LocalBackend({"detector": model})
    buf = make_buffer(len(frames), 640)
    boxes = preprocess_yolo(frames, buf)
    raw = backend.infer("detector", {"images": buf})["output0"]
    assert raw.shape[:2] == (len(frames), 4 + 80)
    served = decode_yolo(raw, boxes, labels, conf=0.3, iou=0.45)
    for a, b in zip(found, served, strict=True):
        assert abs(len(a) - len(b)) <= 1
        for box, name in zip(a.xyxyn, a.class_names, strict=True):
            assert any(
                n == name and np.abs(box - other).max() < 0.02
                for other, n in zip(b.xyxyn, b.class_names, strict=True)
            ), json.dumps([name, box.tolist()])

    # And what Triton is given (TorchScript of the raw head) answers as eager torch does.
    head = RawDetectorHead(model).eval()
    x = torch.from_numpy(buf[:2])
    traced = torch.jit.trace(head, x)
    np.testing.assert_allclose(traced(x).numpy(), head(x).numpy(), atol=1e-4)
