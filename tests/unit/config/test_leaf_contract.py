"""The import-linter contract that keeps config a leaf lists the parts of citybrain it may
not import one by one (import-linter has no "all but"), so a new part must be added to it:
this test fails until it is."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import citybrain

ROOT = Path(__file__).resolve().parents[3]
ALLOWED = {"config", "errors"}  # itself, and the root exceptions (which import nothing)


def test_the_config_leaf_contract_names_every_other_part_of_citybrain() -> None:
    linter = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [leaf] = [c for c in linter["contracts"] if c.get("source_modules") == ["citybrain.config"]]
    parts = {m.name for m in pkgutil.iter_modules(citybrain.__path__)}
    parts -= ALLOWED | {n for n in parts if n.startswith("__")}
    assert {f"citybrain.{p}" for p in parts} <= set(leaf["forbidden_modules"])
    assert "pipelines" in leaf["forbidden_modules"]
