"""Request metrics are labelled by a bounded set of methods: a client sending made-up method
tokens cannot add a Prometheus series per token."""

from __future__ import annotations

from fastapi.testclient import TestClient

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.store import Store
from citybrain.web.app import create_app


def test_unknown_methods_are_counted_as_other(
    city: City, store: Store, app_settings: Settings
) -> None:
    c = TestClient(create_app(city, store, app_settings))
    for i in range(3):
        c.request(f"MADEUP{i}", "/healthz")
    c.get("/healthz")
    text = c.get("/metrics").text
    assert "MADEUP" not in text
    assert 'method="other"' in text and 'method="GET"' in text
