"""Paraphrased Chinese letters about one problem join one group; different problems do not."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from citybrain.cli import app
from citybrain.core.city import City
from citybrain.text.artefact import load_router
from citybrain.text.duplicates import near_duplicate_groups, similarity
from citybrain.text.router_train import TrainResult

LETTERS = [
    "和平路与新华路交叉口井盖丢失，很危险",
    "晚上十点以后工地还在施工，噪音太大",
    "新华路和平路路口的井盖不见了，太危险了",
    "滨江公园门口垃圾桶满了好几天没人清理",
    "工地夜里十点多还在干活，吵得睡不着",
    "滨江公园大门那里的垃圾箱溢出来了，几天都没人收",
    "我想问一下图书馆周末几点开门",
]


def test_paraphrases_group_and_other_problems_stay_apart(
    trained: tuple[Path, TrainResult], city: City
) -> None:
    router, _ = load_router(trained[0], city)
    assert near_duplicate_groups(router, LETTERS) == [[0, 2], [1, 4], [3, 5]]
    sim = similarity(router, LETTERS)
    assert sim[0, 2] > 0.2 and max(sim[0, 1], sim[0, 3], sim[0, 6]) < 0.15
    assert near_duplicate_groups(router, LETTERS, threshold=0.99) == []


def test_cli_groups_a_csv(trained: tuple[Path, TrainResult], tmp_path: Path) -> None:
    src = tmp_path / "letters.csv"
    with src.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["body"])
        w.writerows([[t] for t in LETTERS])
    out = tmp_path / "groups.json"
    res = CliRunner().invoke(
        app, ["router", "duplicates", str(src), "--text-col", "body", "--router", str(trained[0]),
              "--json", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "3 group(s) of near-duplicates in 7 texts" in res.output
    assert len(json.loads(out.read_text())) == 3
