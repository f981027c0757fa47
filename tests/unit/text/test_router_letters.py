"""The router on real Chinese citizen letters (../shared/datasets/letters_cn), on the fixed
validation split that neither the router's design nor the shipped domain prior ever trained
on: cross-validated there as a city with a short history would be, beside the plain baseline
on the same folds."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from citybrain.core.history import Columns
from citybrain.replay.eval_router import cv_on_file
from citybrain.text.history_io import read_history
from citybrain.text.router import RouterOptions
from citybrain.text.splits import fixed_split
from tests.shared_data import DATASETS, require

COLS = Columns(text="subject+detail", label="label")


@pytest.fixture(scope="module")
def validation_letters(tmp_path_factory: pytest.TempPathFactory) -> Path:
    letters = require(DATASETS / "letters_cn" / "letters.csv")
    rows = read_history(letters)
    _, val = fixed_split([r["label"] for r in rows])
    out = tmp_path_factory.mktemp("letters") / "validation.csv"  # never inside the repository
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows[i] for i in val)
    return out


def test_the_router_beats_the_plain_baseline_on_letters_it_never_saw(
    validation_letters: Path,
) -> None:
    cv, report, floor = cv_on_file(validation_letters, COLS, 5, None, RouterOptions(), True)
    assert report.kept > 500 and floor is not None
    assert cv.scores.accuracy >= floor.accuracy + 0.05
    assert cv.scores.accuracy >= 0.88 and cv.scores.macro_f1 >= 0.85
    assert min(cv.scores.f1.values()) >= 0.75  # no domain swallowed by the largest
    # the threshold set under cross-validation lets a majority go out on its own
    assert cv.operating.threshold is not None and cv.operating.coverage >= 0.5
    assert cv.operating.precision >= 0.95
