"""`citybrain eval detections` end to end: the real (untrained) detector on a labelled dataset
written by the simulator. Untrained weights make the scores meaningless, so this checks the
command's plumbing and output, not the numbers (those are pinned in tests/unit/replay). The
scene evaluation runs the committed demo CLIP, so there the numbers mean something."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from typer.testing import CliRunner

from citybrain.cli import app
from citybrain.core.city import City
from citybrain.sim.captions import visible_categories
from citybrain.sim.dataset import plan_frames, write_yolo_dataset
from citybrain.sim.render import render_annotated

pytestmark = pytest.mark.integration


def test_eval_detections_on_a_simulated_dataset(city: City, tmp_path: Path) -> None:
    data_yaml = write_yolo_dataset(
        city, tmp_path / "ds", n_train=0, n_val=4, seed=3, width=320, height=180
    )
    res = CliRunner().invoke(
        app,
        [
            "eval",
            "detections",
            str(tmp_path / "ds" / "images" / "val"),
            "--labels",
            "yolo",
            "--map",
            str(data_yaml),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    r = json.loads(res.output[res.output.index("{") :])
    assert r["images"] == 4 and r["frames_per_s"] > 0
    labelled = sum(c["instances"] for c in r["classes"])
    assert labelled == r["all"]["instances"] > 0
    assert 0 <= r["all"]["precision"] <= 1 and 0 <= r["all"]["map50"] <= 1
    assert {c["name"]: c["categories"] for c in r["classes"]}.get("flood_water", ["flooding"]) == [
        "flooding"
    ]


def test_eval_scene_scores_the_demo_clip_on_rendered_frames(city: City, tmp_path: Path) -> None:
    """Image-level labels as category folders of held-out rendered frames; the committed demo
    CLIP scores them far above chance, and a folder that is no category is a clear error."""
    classes = {c.id: c.detector_classes for c in city.categories}
    written = 0
    for i, plan in enumerate(plan_frames(city, "val", 40, seed=1)):
        img, boxes = render_annotated(plan.camera, plan.events, plan.t, 448, 252, plan.noise_rng())
        shown = visible_categories([e.category for e in plan.events], boxes, classes)
        if len(shown) == 1:
            folder = tmp_path / "scenes" / shown[0]
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"{i}.jpg"), img)
            written += 1
    res = CliRunner().invoke(
        app, ["eval", "detections", str(tmp_path / "scenes"), "--scene", "--json"]
    )
    assert res.exit_code == 0, res.output
    r = json.loads(res.output[res.output.index("{") :])
    assert r["images"] == written >= 8
    assert r["accuracy"] >= 0.7  # chance is 1/8; the model card reports 0.99 on the full split

    (tmp_path / "scenes" / "unicorns").mkdir()
    cv2.imwrite(str(tmp_path / "scenes" / "unicorns" / "x.jpg"), img)
    bad = CliRunner().invoke(app, ["eval", "detections", str(tmp_path / "scenes"), "--scene"])
    assert bad.exit_code == 1 and "not a scene category" in bad.output


def test_eval_detections_on_a_shared_real_set_with_its_own_data_yaml() -> None:
    """The shipped detector on the pothole set's fixed validation split, read through the set's
    own data.yaml and the committed class map (the model card's command): it finds potholes
    on real photos it never saw."""
    from tests.shared_data import DATASETS, require

    data_yaml = require(DATASETS / "pothole" / "data.yaml")
    res = CliRunner().invoke(
        app,
        [
            "eval",
            "detections",
            str(data_yaml),
            "--map",
            "config/datasets/pothole.yaml",
            "--split",
            "val",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    r = json.loads(res.output[res.output.index("{") :])
    assert r["images"] == 108  # the fixed 15 % split of 720 photos
    pothole = next(c for c in r["classes"] if c["name"] == "pothole")
    assert pothole["instances"] == 311 and pothole["categories"] == ["pothole"]
    assert pothole["ap50"] > 0.3  # the untrained or synthetic-only detector scores ~0 here
