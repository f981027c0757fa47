"""Training-set assembly from labelled photo folders: the fixed split, label parsing, and bad
records skipped with a counted reason."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from citybrain.vision.training_data import (
    BuildReport,
    Source,
    parse_yolo_line,
    read_source,
    split_of,
    write_item,
)

DETECTOR = ("vehicle", "person", "garbage", "bin_overflow", "pothole")


def test_split_is_fixed_by_name_and_about_fifteen_percent() -> None:
    names = [f"img_{i:05d}.jpg" for i in range(4000)]
    splits = [split_of(n) for n in names]
    assert splits == [split_of(n) for n in names]  # same answer every time
    share = splits.count("val") / len(splits)
    assert 0.13 < share < 0.17


def test_box_and_polygon_lines() -> None:
    idx, box = parse_yolo_line("1 0.5 0.5 0.2 0.4", 3)
    assert idx == 1
    np.testing.assert_allclose(box, (0.4, 0.3, 0.6, 0.7))
    idx, box = parse_yolo_line("0 0.1 0.2 0.3 0.25 0.2 0.6", 1)  # a triangle
    np.testing.assert_allclose(box, (0.1, 0.2, 0.3, 0.6))
    _, box = parse_yolo_line("0 0.95 0.5 0.2 0.2", 1)  # spills over the right edge: clipped
    assert box[2] == 1.0


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("0 0.5 0.5 0.2", "malformed_line"),
        ("zero 0.5 0.5 0.2 0.2", "malformed_line"),
        ("0 0.5 0.5 nan 0.2", "malformed_line"),
        ("0 0.1 0.2 0.3 0.4 0.5", "malformed_line"),  # an odd number of polygon coordinates
        ("7 0.5 0.5 0.2 0.2", "class_out_of_range"),
        ("-1 0.5 0.5 0.2 0.2", "class_out_of_range"),
        ("0.5 0.5 0.5 0.2 0.2", "class_out_of_range"),
    ],
)
def test_bad_lines_say_why(line: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_yolo_line(line, 3)


def _photo(path: Path, w: int, h: int, blank: bool = False) -> None:
    rng = np.random.default_rng(0)
    img = np.full((h, w, 3), 90, np.uint8) if blank else rng.integers(0, 255, (h, w, 3), np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


def _source(tmp_path: Path) -> Source:
    root = tmp_path / "garbage"
    (root / "labels").mkdir(parents=True)
    (root / "data.yaml").write_text(
        yaml.safe_dump({"names": ["garbage", "garbage_bin", "overflow"]})
    )
    cmap = tmp_path / "map.yaml"
    cmap.write_text(yaml.safe_dump({"map": {"garbage_bin": None, "overflow": "bin_overflow"}}))
    _photo(root / "images" / "big.jpg", 4000, 3000)
    (root / "labels" / "big.txt").write_text(
        "0 0.5 0.5 0.2 0.2\n"
        "2 0.3 0.3 0.1 0.1\n"
        "1 0.7 0.7 0.1 0.1\n"  # an ordinary bin: background
        "0 0.5 0.5 0.0002 0.3\n"  # under a pixel wide at 4000 px
        "9 0.5 0.5 0.1 0.1\n"
        "garbage here\n"
        "\n"
    )
    _photo(root / "images" / "black.jpg", 64, 64, blank=True)
    (root / "labels" / "black.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    (root / "images" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    _photo(root / "images" / "unlabelled.jpg", 64, 48)
    return Source.load("garbage", root, cmap, DETECTOR)


def test_bad_records_are_skipped_and_counted(tmp_path: Path) -> None:
    report = BuildReport()
    items = {i.image.name: i for i in read_source(_source(tmp_path), report)}
    assert sorted(items) == ["big.jpg", "unlabelled.jpg"]
    big = items["big.jpg"]
    assert big.size == (4000, 3000)
    assert big.classes == ("garbage", "bin_overflow")
    assert items["unlabelled.jpg"].classes == ()
    assert report.skipped == {
        "unreadable_or_blank_image": 2,
        "dropped_class:garbage_bin": 1,
        "box_too_small": 1,
        "class_out_of_range": 1,
        "malformed_line": 1,
    }


def test_a_map_to_a_class_the_detector_lacks_is_refused(tmp_path: Path) -> None:
    src = _source(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"map": {"overflow": "overflowing_bin"}}))
    with pytest.raises(ValueError, match="overflowing_bin"):
        Source.load("garbage", src.root, bad, DETECTOR)


def test_written_item_links_the_image_and_labels_in_detector_indices(tmp_path: Path) -> None:
    items = list(read_source(_source(tmp_path), BuildReport()))
    big = next(i for i in items if i.image.name == "big.jpg")
    out = tmp_path / "out"
    write_item(out, "train", "garbage_big", big, {c: i for i, c in enumerate(DETECTOR)})
    link = out / "images" / "train" / "garbage_big.jpg"
    assert link.is_symlink() and link.resolve() == big.image.resolve()
    rows = (out / "labels" / "train" / "garbage_big.txt").read_text().splitlines()
    assert [r.split()[0] for r in rows] == ["2", "3"]
    write_item(out, "train", "garbage_big", big, {c: i for i, c in enumerate(DETECTOR)})  # again
    assert link.is_symlink()
