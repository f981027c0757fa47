"""Detection scores on a tiny labelled fixture whose numbers can be worked out by hand. The
"detectors" here return known boxes: the metric code is under test, not a model."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from citybrain.replay.errors import LabelError
from citybrain.replay.eval_detections import evaluate_detections, evaluate_scenes
from citybrain.replay.labels import (
    ClassMap,
    LabelledImage,
    load_coco,
    load_scene_folders,
    load_yolo,
)
from citybrain.vision.detections import Detections

CLASSES = ["vehicle", "pothole", "smoke"]
# Two images in the ultralytics layout; dataset class 0 "car" means the detector's "vehicle".
LABELS = {
    "a": ["0 0.25 0.25 0.2 0.2", "1 0.75 0.75 0.2 0.2"],
    "b": ["0 0.5 0.5 0.4 0.4", "2 0.1 0.1 0.1 0.1"],  # class 2 "person" is ignored by the map
}


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, Path]:
    for split in ("images", "labels"):
        (tmp_path / split).mkdir()
    for stem, lines in LABELS.items():
        cv2.imwrite(str(tmp_path / "images" / f"{stem}.jpg"), np.zeros((64, 96, 3), np.uint8))
        (tmp_path / "labels" / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    cmap = tmp_path / "classes.yaml"
    cmap.write_text(
        yaml.safe_dump(
            {"names": ["car", "pothole", "person"], "map": {"car": "vehicle", "person": None}}
        )
    )
    return tmp_path / "images", cmap


def detector_of(outputs: dict[str, list[tuple[str, float, tuple[float, ...]]]]):  # type: ignore[no-untyped-def]
    """A detector that returns fixed boxes per image, in call order of the sorted file names."""
    queue = [outputs[k] for k in sorted(outputs)]

    def detect(images: list[np.ndarray]) -> list[Detections]:
        out = []
        for _ in images:
            rows = queue.pop(0)
            out.append(
                Detections.from_named(
                    np.array([r[2] for r in rows], np.float32).reshape(-1, 4),
                    np.array([r[1] for r in rows], np.float32),
                    tuple(r[0] for r in rows),
                )
            )
        return out

    return detect


def truth_boxes(data: list[LabelledImage]) -> dict[str, list[tuple[str, float, tuple[float, ...]]]]:
    return {
        d.path.stem: [
            (c, 0.9, tuple(float(x) for x in b)) for c, b in zip(d.classes, d.boxes, strict=True)
        ]
        for d in data
    }


def test_the_ground_truth_itself_scores_one_everywhere(dataset: tuple[Path, Path]) -> None:
    images, cmap = dataset
    data = load_yolo(images, ClassMap.load(cmap, set(CLASSES)))
    assert [d.classes for d in data] == [("vehicle", "pothole"), ("vehicle",)]
    r = evaluate_detections(data, detector_of(truth_boxes(data)), CLASSES)
    assert r["all"] == {
        "instances": 3,
        "predictions": 3,
        "true_positives": 3,
        "precision": 1.0,
        "recall": 1.0,
        "map50": pytest.approx(1.0, abs=1e-6),
    }
    assert {c["name"]: (c["precision"], c["recall"], c["ap50"]) for c in r["classes"]} == {
        "vehicle": (1.0, 1.0, pytest.approx(1.0, abs=1e-6)),
        "pothole": (1.0, 1.0, pytest.approx(1.0, abs=1e-6)),
    }
    assert r["frames_per_s"] > 0


def test_one_hit_one_miss_one_false_alarm(dataset: tuple[Path, Path]) -> None:
    """vehicle: 2 boxes; a hit at 0.9 on image a, a false alarm at 0.8 on image b (IoU with b's
    box is 0: wrong place), b's box missed. So P = 1/2, R = 1/2, and the PR curve is precision 1
    up to recall 1/2, then nothing: of COCO's 101 recall points 0, 0.01 … 0.5 (51 of them) have
    precision 1, the rest 0, so AP50 = 51/101.
    pothole: predicted as smoke at the right place: a miss and a false alarm of another class."""
    images, cmap = dataset
    data = load_yolo(images, ClassMap.load(cmap, set(CLASSES)))
    outputs = {
        "a": [
            ("vehicle", 0.9, (0.15, 0.15, 0.35, 0.35)),
            ("smoke", 0.7, (0.65, 0.65, 0.85, 0.85)),
        ],
        "b": [("vehicle", 0.8, (0.0, 0.8, 0.1, 0.9))],
    }
    r = evaluate_detections(data, detector_of(outputs), CLASSES)
    by = {c["name"]: c for c in r["classes"]}
    assert (by["vehicle"]["precision"], by["vehicle"]["recall"]) == (0.5, 0.5)
    assert by["vehicle"]["ap50"] == pytest.approx(51 / 101, abs=1e-4)
    assert (by["pothole"]["recall"], by["pothole"]["predictions"], by["pothole"]["ap50"]) == (
        0,
        0,
        0,
    )
    assert (by["smoke"]["precision"], by["smoke"]["instances"]) == (0, 0)
    assert r["all"]["precision"] == pytest.approx(1 / 3, abs=1e-4)
    assert r["all"]["recall"] == pytest.approx(1 / 3, abs=1e-4)
    assert r["all"]["map50"] == pytest.approx(51 / 101 / 2, abs=1e-4)  # labelled classes' mean


def test_coco_labels_give_the_same_data(dataset: tuple[Path, Path], tmp_path: Path) -> None:
    images, cmap = dataset
    yolo = load_yolo(images, ClassMap.load(cmap, set(CLASSES)))
    coco = {
        "images": [
            {"id": 1, "file_name": "a.jpg", "width": 96, "height": 64},
            {"id": 2, "file_name": "b.jpg", "width": 96, "height": 64},
        ],
        "categories": [
            {"id": 3, "name": "car"},
            {"id": 4, "name": "pothole"},
            {"id": 5, "name": "person"},
        ],
        "annotations": [
            {"image_id": 1, "category_id": 3, "bbox": [0.15 * 96, 0.15 * 64, 0.2 * 96, 0.2 * 64]},
            {"image_id": 1, "category_id": 4, "bbox": [0.65 * 96, 0.65 * 64, 0.2 * 96, 0.2 * 64]},
            {"image_id": 2, "category_id": 3, "bbox": [0.3 * 96, 0.3 * 64, 0.4 * 96, 0.4 * 64]},
            {"image_id": 2, "category_id": 5, "bbox": [0, 0, 9, 6]},
        ],
    }
    ann = tmp_path / "coco.json"
    ann.write_text(json.dumps(coco))
    got = load_coco(images, ann, ClassMap.load(cmap, set(CLASSES)))
    assert [d.classes for d in got] == [d.classes for d in yolo]
    for g, y in zip(got, yolo, strict=True):
        np.testing.assert_allclose(g.boxes, y.boxes, atol=1e-6)


def test_unknown_classes_are_errors_with_their_place(
    dataset: tuple[Path, Path], tmp_path: Path
) -> None:
    images, cmap = dataset
    (images.parent / "labels" / "b.txt").write_text("7 0.5 0.5 0.1 0.1\n")
    with pytest.raises(LabelError, match=r"b\.txt:1: class index 7"):
        load_yolo(images, ClassMap.load(cmap, set(CLASSES)))

    (images.parent / "labels" / "b.txt").write_text("2 0.5 0.5 0.1 0.1\n")
    unmapped = tmp_path / "unmapped.yaml"
    unmapped.write_text(
        yaml.safe_dump({"names": ["car", "pothole", "person"], "map": {"car": "vehicle"}})
    )
    with pytest.raises(LabelError, match="class 'person' is unknown"):
        load_yolo(images, ClassMap.load(unmapped, set(CLASSES)))

    wrong_target = tmp_path / "wrong.yaml"
    wrong_target.write_text(yaml.safe_dump({"names": ["car"], "map": {"car": "automobile"}}))
    with pytest.raises(LabelError, match="not detector classes: car -> automobile"):
        ClassMap.load(wrong_target, set(CLASSES))

    ann = tmp_path / "bad.json"
    ann.write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "a.jpg", "width": 9, "height": 9}],
                "categories": [{"id": 1, "name": "car"}],
                "annotations": [{"image_id": 1, "category_id": 9, "bbox": [0, 0, 1, 1]}],
            }
        )
    )
    with pytest.raises(LabelError, match="category_id 9"):
        load_coco(images, ann, ClassMap.load(cmap, set(CLASSES)))


def test_scene_evaluation_over_any_scorer(tmp_path: Path) -> None:
    """Three flooding images and one pothole; the scorer calls everything flooding."""
    for cat, n in (("flooding", 3), ("pothole", 1)):
        (tmp_path / cat).mkdir()
        for i in range(n):
            cv2.imwrite(str(tmp_path / cat / f"{i}.jpg"), np.zeros((8, 8, 3), np.uint8))
    data = load_scene_folders(tmp_path, {"flooding", "pothole", "noise"})
    r = evaluate_scenes(
        data,
        lambda imgs: [{"flooding": 0.7, "pothole": 0.2} for _ in imgs],
        ["flooding", "pothole"],
    )
    assert r["accuracy"] == 0.75
    by = {c["name"]: c for c in r["categories"]}
    assert (by["flooding"]["precision"], by["flooding"]["recall"]) == (0.75, 1.0)
    assert (by["pothole"]["precision"], by["pothole"]["recall"]) == (0.0, 0.0)
    (tmp_path / "meteor").mkdir()
    with pytest.raises(LabelError, match="'meteor' is not a scene category"):
        load_scene_folders(tmp_path, {"flooding", "pothole"})


def test_tables_render_the_scores(dataset: tuple[Path, Path]) -> None:
    from rich.console import Console

    from citybrain.replay.render import print_detections, print_scenes

    images, cmap = dataset
    data = load_yolo(images, ClassMap.load(cmap, set(CLASSES)))
    r = evaluate_detections(
        data,
        detector_of(truth_boxes(data)),
        CLASSES,
        categories_of={"vehicle": ["illegal_parking"]},
    )
    console = Console(record=True, width=200)
    print_detections(r, console)
    text = console.export_text()
    assert "illegal_parking" in text and "frames/s" in text
    assert [line.split()[:2] for line in text.splitlines() if "all" in line.split()[:2]] == [
        ["│", "all"]
    ]
    print_scenes(
        {
            "images": 1,
            "accuracy": 1.0,
            "frames_per_s": 3.0,
            "categories": [
                {"name": "flooding", "images": 1, "predicted": 1, "precision": 1.0, "recall": 1.0}
            ],
        },
        console,
    )
    assert "flooding" in console.export_text()
