"""The router trained on the synthetic city's history: scores, advice, artefact checks."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from citybrain.core.city import City
from citybrain.replay.eval_routing import load_label_map
from citybrain.text.artefact import FORMAT_VERSION, load_router, read_manifest
from citybrain.text.errors import ArtefactError
from citybrain.text.router_train import TrainResult, train
from tests.unit.router_fixtures import COLS


def test_training_writes_a_versioned_artefact(trained: tuple[Path, TrainResult]) -> None:
    out, result = trained
    m = read_manifest(out)
    assert m.format_version == FORMAT_VERSION and m.kind == "department"
    assert m.rows == result.report.kept > 500 and len(m.fingerprint) == 64
    assert m.sklearn_version and m.created_at.tzinfo is not None
    assert {"city_roads", "hotline_triage"} <= set(m.labels)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["folds"] == 3 and metrics["accuracy"] >= 0.9 and metrics["confusion"]
    assert json.loads((out / "report.json").read_text())["kept"] == m.rows
    # held out, the router is right on >= 90 % and may dispatch a majority on its own
    assert result.cv is not None and result.cv.scores.accuracy >= 0.9
    assert result.cv.operating.threshold is not None and result.cv.operating.coverage > 0.5


def test_advice_names_top_labels_and_similar_past_tickets(
    trained: tuple[Path, TrainResult], city: City
) -> None:
    router, manifest = load_router(trained[0], city, min_confidence=0.2)
    texts = [
        "新华路积水严重，车辆无法通行，电话13812345678",
        "The streetlight is out on Heping Road",
    ]
    advice = router.advise(texts, ["xicheng", None])
    assert [a.top[0].label for a in advice] == ["water_drainage", "street_lighting"]
    for a in advice:
        assert len(a.top) == 3 and a.top[0].p >= a.top[1].p >= a.top[2].p
        assert len(a.similar) == 3 and a.similar[0].similarity >= a.similar[2].similarity
        assert a.router == manifest.router_id and a.auto_threshold == manifest.auto_threshold
        assert all("138" not in s.text for s in a.similar)  # past texts were redacted
    assert advice[0].similar[0].label == "water_drainage"


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_an_artefact_of_another_format_version_is_refused(
    trained: tuple[Path, TrainResult], tmp_path: Path
) -> None:
    art = _copy(trained[0], tmp_path / "old")
    data = json.loads((art / "manifest.json").read_text())
    data["format_version"] = 0
    (art / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ArtefactError, match="format version 0"):
        load_router(art)


def test_labels_the_city_lacks_are_refused(
    trained: tuple[Path, TrainResult], city: City, tmp_path: Path
) -> None:
    art = _copy(trained[0], tmp_path / "other")
    data = json.loads((art / "manifest.json").read_text())
    data["labels"] = [*data["labels"][:-1], "ministry_of_magic"]
    (art / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ArtefactError, match="ministry_of_magic"):
        load_router(art, city)


def test_a_damaged_model_file_is_refused(trained: tuple[Path, TrainResult], tmp_path: Path) -> None:
    art = _copy(trained[0], tmp_path / "damaged")
    with (art / "model.joblib").open("ab") as f:
        f.write(b"x")
    with pytest.raises(ArtefactError, match="does not match its manifest"):
        load_router(art)
    with pytest.raises(ArtefactError, match="no router artefact"):
        load_router(tmp_path / "nowhere")


def test_district_values_the_city_lacks_are_reported(
    history: Path, city: City, tmp_path: Path
) -> None:
    rows = list(csv.DictReader(history.open(encoding="utf-8")))
    for r in rows:
        r["district"] = "CD13" if r["district"] else ""
    src = tmp_path / "h.csv"
    with src.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    labels = load_label_map(history.with_suffix(".labels.yaml"), city)
    res = train(src, COLS, tmp_path / "r", city, labels, folds=0)
    assert any("not this city's district ids (e.g. 'CD13')" in n for n in res.report.notes)


def test_the_bytes_checked_are_the_bytes_unpickled(
    trained: tuple[Path, TrainResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model file is replaced right after its hash was checked (a race no test can time,
    so the read that feeds the check swaps the file as it returns): the router loaded is the
    one that was checked, not the replacement."""
    import joblib

    art = _copy(trained[0], tmp_path / "raced")
    blob = art / "model.joblib"
    read = Path.read_bytes

    def read_then_swap(self: Path) -> bytes:
        data = read(self)
        if self == blob:
            joblib.dump({"model": "replaced after the check", "neighbours": None}, blob)
        return data

    monkeypatch.setattr(Path, "read_bytes", read_then_swap)
    router, manifest = load_router(art)
    assert tuple(router.model.labels) == manifest.labels
