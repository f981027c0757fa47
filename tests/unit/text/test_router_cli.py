"""`citybrain router train` and `citybrain eval routing --cv/--router` on real CSV files,
including the bad histories real exports are."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citybrain.cli import app
from citybrain.text.router_train import TrainResult
from tests.shared_data import DATASETS

LA311 = DATASETS / "la311"
TRAIN = ["router", "train"]


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def _messy(path: Path) -> Path:
    """Two labels in Chinese, with every accident an export has."""
    rows = []
    for i in range(40):
        rows.append({"id": f"a{i}", "text": f"和平路{i}号路灯不亮，晚上很黑", "dept": "lights"})
        rows.append({"id": f"b{i}", "text": f"新华路{i}号垃圾桶满了，垃圾溢出", "dept": "bins"})
    rows += [rows[0], rows[1]]  # exported twice
    rows.append({"id": "e", "text": "  ", "dept": "lights"})
    rows.append({"id": "l", "text": "路灯坏了" * 25_000, "dept": "lights"})  # 100,000 characters
    rows.append({"id": "r", "text": "别的事", "dept": "rare"})
    _write(path, rows)
    gbk = "井盖丢失，路灯不亮".encode("gbk")  # a GBK row inside the UTF-8 file
    with path.open("ab") as f:
        f.write(b"g," + gbk + b",lights\r\n")
    return path


def test_train_reports_what_it_dropped_and_repaired(tmp_path: Path) -> None:
    src = _messy(tmp_path / "messy.csv")
    out = tmp_path / "router"
    res = CliRunner().invoke(
        app, [*TRAIN, str(src), "--text-col", "text", "--label-col", "dept", "--cv", "3",
              "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "dropped 2: duplicate row" in res.output and "dropped 1: empty text" in res.output
    assert "label with fewer than 3 examples" in res.output
    assert "repaired 1: gbk_bytes" in res.output and "text cut to 4000" in res.output
    report = json.loads((out / "report.json").read_text())
    assert report["kept"] == 82 and report["labels"] == {"lights": 42, "bins": 40}
    # free labels: kept for evaluation, but the ticket job would refuse them
    assert json.loads((out / "manifest.json").read_text())["kind"] == "label"


def test_missing_columns_and_one_label_are_refused(tmp_path: Path) -> None:
    src = _messy(tmp_path / "messy.csv")
    out = tmp_path / "never"
    res = CliRunner().invoke(
        app, [*TRAIN, str(src), "--text-col", "body", "--label-col", "dept", "--out", str(out)]
    )
    assert (
        res.exit_code == 2 and "no column 'body'" in res.output and "id, text, dept" in res.output
    )
    one = _write(
        tmp_path / "one.csv", [{"text": f"路灯不亮{i}", "dept": "lights"} for i in range(30)]
    )
    res = CliRunner().invoke(
        app, [*TRAIN, str(one), "--text-col", "text", "--label-col", "dept", "--out", str(out)]
    )
    assert res.exit_code == 2 and "1 usable label(s) (only 'lights')" in res.output
    assert "30 rows read, 30 kept" in res.output and not out.exists()


def test_eval_cv_and_trained_router(
    history: Path, trained: tuple[Path, TrainResult], tmp_path: Path
) -> None:
    scores = tmp_path / "cv.json"
    base = ["eval", "routing", str(history), "--text-col", "text", "--label-col", "department"]
    labels = str(history.with_suffix(".labels.yaml"))
    res = CliRunner().invoke(
        app,
        [*base, "--map", labels, "--district-col", "district", "--cv", "3", "--json", str(scores)],
    )
    assert res.exit_code == 0, res.output
    assert "coverage-precision curve" in res.output and "per-label F1" in res.output
    cv = json.loads(scores.read_text())
    assert cv["folds"] == 3 and cv["accuracy"] >= 0.9 and 0 < cv["macro_f1"] <= 1
    assert cv["auto_dispatch"]["coverage"] > 0.5 and cv["auto_dispatch"]["precision"] >= 0.95
    assert cv["curve"] and cv["confusion"] and set(cv["f1"]) >= {"city_roads"}
    # the trained router, alone and in the pipeline's decision order
    res = CliRunner().invoke(
        app,
        [*base, "--map", labels, "--router", str(trained[0]), "--no-llm", "--json", str(scores)],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(scores.read_text())
    assert out["router"]["accuracy"] > 0.8 and out["decided_by"]["router"] > 0
    assert out["decided_by"]["rule"] > out["decided_by"]["router"]
    assert out["accuracy"] >= 0.95


@pytest.mark.skipif(not LA311.is_dir(), reason="needs ../shared/datasets/la311 (not in the repo)")
def test_la311_structured_types_route_at_97_percent(tmp_path: Path) -> None:
    scores = tmp_path / "la.json"
    res = CliRunner().invoke(
        app, ["eval", "routing", str(LA311 / "la311_2018_sample.csv"), "--text-col", "RequestType",
              "--label-col", "Owner", "--district-col", "CD", "--cv", "3", "--json", str(scores)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    cv = json.loads(scores.read_text())
    assert cv["n"] > 9000 and cv["accuracy"] >= 0.97


def test_path_labels_joined_text_columns_and_odd_letters(tmp_path: Path) -> None:
    """A hotline export as it comes: BOM, subject and body apart, two-level labels, a letter
    in a third language and a 1 MB letter; the training report says what it did, the CV
    reports each level and the plain baseline on the same folds."""
    topics = {
        "城乡建设/物业管理": ("物业不作为", "小区物业乱收停车费，电梯坏了不修"),
        "城乡建设/市政设施": ("路灯不亮", "小区门口路灯坏了一个月，晚上很黑"),
        "教育文体/学前教育": ("幼儿园收费", "幼儿园每学期多收两千元材料费"),
        "教育文体/义务教育": ("学校补课", "学校周末组织补课，每人收费五百"),
    }
    rows = [
        {"subject": f"{s}{i}", "detail": f"{d}，第{i}次反映", "label": label}
        for label, (s, d) in topics.items() for i in range(12)
    ]  # fmt: skip
    rows.append(
        {"subject": "", "detail": "Фонарь не горит уже месяц", "label": "城乡建设/市政设施"}
    )
    rows.append({"subject": "长信", "detail": "路灯" * 500_000, "label": "城乡建设/市政设施"})
    src = _write(tmp_path / "letters.csv", rows)
    src.write_bytes(b"\xef\xbb\xbf" + src.read_bytes())
    out, scores = tmp_path / "router", tmp_path / "cv.json"
    cols = ["--text-col", "subject+detail", "--label-col", "label"]
    res = CliRunner().invoke(app, [*TRAIN, str(src), *cols, "--cv", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "50 rows read, 50 kept" in res.output and "text cut to 4000" in res.output
    assert json.loads((out / "manifest.json").read_text())["labels"] == sorted(topics)
    res = CliRunner().invoke(
        app, ["eval", "routing", str(src), *cols, "--cv", "3", "--baseline", "--json", str(scores)]
    )
    assert res.exit_code == 0, res.output
    assert "accuracy at level 1" in res.output and "baseline (char 1-3-gram" in res.output
    cv = json.loads(scores.read_text())
    assert set(cv["level_accuracy"]) == {"1", "2"} and cv["level_accuracy"]["1"] >= 0.9
    assert 0 < cv["baseline"]["accuracy"] <= 1 and cv["accuracy"] >= 0.9
