"""docs/schemas/ is the published contract: it must match the message types exactly."""

import json
from pathlib import Path

import pytest

from citybrain.core.schemas import SCHEMA_TYPES, json_schema

DOCS = Path(__file__).resolve().parents[3] / "docs" / "schemas"


@pytest.mark.parametrize("name", sorted(SCHEMA_TYPES))
def test_published_schema_is_current(name: str) -> None:
    published = json.loads((DOCS / f"{name}.schema.json").read_text())
    assert published == json_schema(name), (
        f"docs/schemas/{name}.schema.json is stale: run `citybrain schemas`"
    )
