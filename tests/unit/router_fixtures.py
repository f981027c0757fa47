"""A small ticket history of the synthetic city and a router trained on it, once per session
(a pytest plugin, loaded by tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.core.history import Columns
from citybrain.replay.eval_routing import load_label_map
from citybrain.sim.labelled_tickets import write_labelled_csv
from citybrain.text.router_train import TrainResult, train

COLS = Columns(text="text", label="department", district="district", time="created_at")


@pytest.fixture(scope="session")
def history(settings: Settings, city: City, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("history") / "history.csv"
    write_labelled_csv(city, settings.simulator, out, range(30))
    return out


@pytest.fixture(scope="session")
def trained(
    history: Path, city: City, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, TrainResult]:
    out = tmp_path_factory.mktemp("router") / "router"
    labels = load_label_map(history.with_suffix(".labels.yaml"), city)
    return out, train(history, COLS, out, city, labels, folds=3)
