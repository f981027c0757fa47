"""Open311 and the JSON API under random input: never a 500 (503 is the answer when Kafka is
not connected, as here)."""

from __future__ import annotations

import json
import string

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.store import Store
from citybrain.web.app import create_app

from ..unit.web.conftest import PASSWORDS

_VALUE = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_FIELDS = st.sampled_from(
    ["service_code", "lat", "long", "description", "address_string", "api_key", "email", "x"]
)
_QUERY = st.dictionaries(
    st.sampled_from(["category", "district", "range", "page", "page_size", "status", "since",
                     "limit", "k", "open_only", "department", "incident_id", "start_date",
                     "end_date", "service_request_id", "service_code", "max_events"]),
    st.text(alphabet=string.printable, max_size=20),
    max_size=4,
)  # fmt: skip
_GETS = [
    "/api/incidents", "/api/incidents/flood-1", "/api/dispatches", "/api/feedback",
    "/api/metrics", "/api/hotspots", "/api/stats", "/api/evidence/o-flood-2/similar",
    "/open311/v2/requests.json", "/open311/v2/requests/311-x.json", "/incidents", "/inbox",
]  # fmt: skip


def _app(city: City, store: Store, settings: Settings) -> TestClient:
    web = settings.web.model_copy(
        update={"session_secret": "fuzz", "demo_mode": True,
                "open311_rate_per_client": "1000000/minute",
                "login_rate_per_client": "1000000/minute"}
    )  # fmt: skip
    return TestClient(create_app(city, store, settings.model_copy(update={"web": web})))


def test_open311_submissions_never_500(city: City, store: Store, settings: Settings) -> None:
    c = _app(city, store, settings)

    @given(st.dictionaries(_FIELDS, _VALUE, max_size=6), st.booleans())
    def check(body: dict[str, object], as_json: bool) -> None:
        if as_json:
            r = c.post("/open311/v2/requests.json", content=json.dumps(body, default=str),
                       headers={"content-type": "application/json"})  # fmt: skip
        else:
            r = c.post("/open311/v2/requests.json", data={k: str(v) for k, v in body.items()})
        assert r.status_code in (400, 403, 413, 429, 503), (body, r.status_code, r.text)

    check()


def test_api_reads_never_500(city: City, store: Store, settings: Settings) -> None:
    c = _app(city, store, settings)
    ops = c.post("/api/token", json={"username": "operator", "password": PASSWORDS["operator"]})
    dsp = c.post("/api/token", json={"username": "drainage", "password": PASSWORDS["drainage"]})
    tokens = [{"authorization": f"Bearer {r.json()['token']}"} for r in (ops, dsp)] + [{}]

    @given(st.sampled_from(_GETS), _QUERY, st.sampled_from(tokens))
    def check(path: str, query: dict[str, str], headers: dict[str, str]) -> None:
        r = c.get(path, params=query, headers={**headers, "accept": "application/json"})
        assert r.status_code < 500, (path, query, r.status_code, r.text[:300])

    check()
