"""docs/schemas/ is the published contract: it must match the message types exactly."""

import json
from pathlib import Path

import pytest

from citybrain.core.messages import SCHEMA_TYPES

DOCS = Path(__file__).resolve().parents[3] / "docs" / "schemas"


@pytest.mark.parametrize("name", sorted(SCHEMA_TYPES))
def test_published_schema_is_current(name: str) -> None:
    published = json.loads((DOCS / f"{name}.schema.json").read_text())
    assert published == SCHEMA_TYPES[name].model_json_schema(), (
        f"docs/schemas/{name}.schema.json is stale: run `citybrain schemas`"
    )
