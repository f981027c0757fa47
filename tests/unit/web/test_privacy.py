"""People and plates hidden in shown frames: the rule on fixtures, and on real street photos
from ../shared the COCO detector finds no person where people were hidden."""

from __future__ import annotations

import cv2
import numpy as np

from citybrain.config.vision import VisionSettings
from citybrain.replay.eval_detections import box_iou
from citybrain.vision.detector import Detector
from citybrain.web.privacy import hide_private, private_regions
from tests.shared_data import COCO_YOLOV5N, DATASETS, require

PEOPLE = ("person",)
PLATES = ("vehicle", "car", "truck", "bus", "motorcycle")


def test_people_whole_with_a_margin_vehicles_lower_half_others_untouched() -> None:
    boxes = [
        ("person", (0.2, 0.2, 0.4, 0.6)),
        ("car", (0.5, 0.5, 0.9, 0.9)),
        ("pothole", (0.0, 0.0, 0.1, 0.1)),
    ]
    person, car = private_regions(boxes, 100, 100, PEOPLE, PLATES)
    assert person == (18, 16, 43, 64)  # 10 % of the box's size on each side
    assert car == (50, 70, 90, 90)  # lower half only


def test_hidden_region_loses_its_detail_and_the_rest_is_unchanged() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (200, 200, 3), np.uint8)
    before = img.copy()
    hide_private(img, [("person", (0.25, 0.25, 0.75, 0.75))], PEOPLE, PLATES)
    inside, inside_before = img[60:140, 60:140], before[60:140, 60:140]
    # noise has high local contrast; its mosaic is smooth
    assert (
        np.abs(np.diff(inside.astype(int), axis=1)).mean()
        < 0.2 * np.abs(np.diff(inside_before.astype(int), axis=1)).mean()
    )
    assert (img[:40] == before[:40]).all() and (img[:, 160:] == before[:, 160:]).all()


def test_coco_detector_finds_no_person_where_people_were_hidden() -> None:
    weights = require(COCO_YOLOV5N)
    paths = sorted(require(DATASETS / "pothole" / "images").glob("*.jpg"))[:40]
    detector = Detector.load(
        VisionSettings(model=weights, imgsz=640, conf_threshold=0.25, iou_threshold=0.45)
    )
    frames = [cv2.imread(str(p)) for p in paths]
    before = detector.detect(frames)
    people = 0
    hidden = []
    for img, det in zip(frames, before, strict=True):
        boxes = [
            (n, tuple(float(v) for v in b)) for n, b in zip(det.class_names, det.xyxyn, strict=True)
        ]
        people += sum(n == "person" for n, _ in boxes)
        hidden.append(hide_private(img.copy(), boxes, PEOPLE, PLATES))  # type: ignore[arg-type]
    assert people >= 5, "the sample has too few people to test anything"
    after = detector.detect(hidden)
    for b, a in zip(before, after, strict=True):
        was = b.xyxyn[np.array([n == "person" for n in b.class_names], bool)]
        now = a.xyxyn[np.array([n == "person" for n in a.class_names], bool)]
        if len(was) and len(now):
            assert box_iou(was, now).max() < 0.3
