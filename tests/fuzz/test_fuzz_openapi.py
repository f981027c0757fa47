"""Every operation of the web's own OpenAPI spec, called with what schemathesis generates from
it (valid and invalid parameters and bodies), as an operator, a dispatcher and nobody: the
server never answers 5xx (503 alone is allowed: Kafka is not connected here, and the web
says so rather than pretending to accept)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as run_settings

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.store import Store
from citybrain.web.app import create_app

from ..unit.web.conftest import PASSWORDS


@pytest.fixture
def web_app(city: City, store: Store, settings: Settings) -> Any:
    web = settings.web.model_copy(
        update={"session_secret": "fuzz", "demo_mode": True,
                "open311_rate_per_client": "1000000/minute",
                "login_rate_per_client": "1000000/minute"}
    )  # fmt: skip
    return create_app(city, store, settings.model_copy(update={"web": web}))


@pytest.fixture
def tokens(web_app: Any) -> list[dict[str, str]]:
    c = TestClient(web_app)
    out: list[dict[str, str]] = [{}]
    for user in ("operator", "drainage"):
        r = c.post("/api/token", json={"username": user, "password": PASSWORDS[user]})
        out.append({"authorization": f"Bearer {r.json()['token']}"})
    return out


def test_no_operation_answers_a_server_error(web_app: Any, tokens: list[dict[str, str]]) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", web_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 10  # the spec really lists the API
    # a quarter of the profile's examples per operation: there are many operations
    examples = max(10, run_settings.default.max_examples // 4)
    for op in operations:

        @run_settings(max_examples=examples)
        @given(op.as_strategy())
        def check(case: Any) -> None:
            for headers in tokens:
                response = case.call(headers=headers)
                assert response.status_code < 500 or response.status_code == 503, (
                    case.method,
                    case.formatted_path,
                    response.status_code,
                    response.text[:300],
                )

        check()
