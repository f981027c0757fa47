"""Shared fixtures: the sample city and settings, loaded once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.chdir(ROOT)  # config paths in the sample YAML are relative to the repository root
os.environ.setdefault("YOLO_CONFIG_DIR", str(ROOT / "var" / "ultralytics"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from citybrain.city_loading import load_all  # noqa: E402
from citybrain.config import Settings  # noqa: E402
from citybrain.core.city import City  # noqa: E402


@pytest.fixture(scope="session")
def settings_and_city() -> tuple[Settings, City]:
    return load_all(ROOT / "config" / "citybrain.yaml")


@pytest.fixture(scope="session")
def city(settings_and_city: tuple[Settings, City]) -> City:
    return settings_and_city[1]


@pytest.fixture(scope="session")
def settings(settings_and_city: tuple[Settings, City]) -> Settings:
    return settings_and_city[0]


pytest_plugins = ["tests.unit.router_fixtures"]  # a synthetic history and a router trained on it
