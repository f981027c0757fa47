"""Open311 intake under hostile or careless clients: body cap, keys, rate limits, types, Kafka
down (a real producer against a closed port: the request is kept), and coarse public
coordinates."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.store import Store
from citybrain.store.web_models import Open311RequestRow
from citybrain.store.web_queries import WebStore
from citybrain.web.app import create_app
from citybrain.web.bus import OPEN311_OUTBOX, KafkaBus

URL = "/open311/v2/requests.json"
GOOD = {"service_code": "flooding", "lat": "30.28", "long": "120.12", "description": "water"}


def _app(city: City, store: Store, settings: Settings, bus: Any = None, **web: Any) -> TestClient:
    s = settings.model_copy(update={"web": settings.web.model_copy(update=web)})
    return TestClient(create_app(city, store, s, bus))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_body_over_the_cap_is_refused_before_it_is_read(
    city: City, store: Store, app_settings: Settings
) -> None:
    c = _app(city, store, app_settings, max_body_bytes=4096)
    big = {**GOOD, "description": "x" * 5000}
    r = c.post(URL, data=big)
    assert r.status_code == 413 and "4096" in r.json()["detail"]

    def chunks() -> Any:  # no Content-Length: counted as it streams
        for _ in range(10):
            yield b"a" * 1000

    r = c.post(URL, content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    assert c.post(URL, data=GOOD).status_code == 503  # within the cap: admitted (no Kafka here)


def test_keys_are_required_outside_demo_mode_and_checked_when_configured(
    city: City, store: Store, served_settings: Settings
) -> None:
    public = _app(city, store, served_settings)  # on 127.0.0.1, behind a proxy perhaps
    r = public.post(URL, data=GOOD)
    assert r.status_code == 403 and "open311_api_keys" in r.json()[0]["description"]
    keyed = _app(city, store, served_settings, open311_api_keys=("k-1",))
    assert keyed.post(URL, data=GOOD).status_code == 403
    assert keyed.post(URL, data={**GOOD, "api_key": "wrong"}).status_code == 403
    assert keyed.post(URL, data={**GOOD, "api_key": "k-1"}).status_code == 503  # admitted
    assert keyed.post(URL, data=GOOD, headers={"x-api-key": "k-1"}).status_code == 503


def test_rate_limits_per_client_and_per_key_answer_429_with_retry_after(
    city: City, store: Store, app_settings: Settings
) -> None:
    c = _app(city, store, app_settings, open311_rate_per_client="3/minute")
    assert [c.post(URL, data=GOOD).status_code for _ in range(3)] == [503, 503, 503]
    r = c.post(URL, data=GOOD)
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60

    k = _app(
        city,
        store,
        app_settings,
        open311_api_keys=("k-1", "k-2"),
        open311_rate_per_key="2/minute",
        open311_rate_per_client="1/minute",
    )
    codes = [k.post(URL, data={**GOOD, "api_key": "k-1"}).status_code for _ in range(3)]
    assert codes == [503, 503, 429]  # the key's budget, not the client address's
    assert k.post(URL, data={**GOOD, "api_key": "k-2"}).status_code == 503
    # Guessing keys is counted per address: the second wrong key is already refused.
    assert k.post(URL, data={**GOOD, "api_key": "guess-1"}).status_code == 403
    assert k.post(URL, data={**GOOD, "api_key": "guess-2"}).status_code == 429


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**GOOD, "lat": True}, "lat must be a number"),
        ({**GOOD, "lat": 10**400}, "lat must be a number"),  # float() overflows: was a 500
        ({**GOOD, "long": [120]}, "long must be a number"),
        ({**GOOD, "lat": None, "long": None, "address_string": {"a": 1}}, "address_string must"),
        ({**GOOD, "description": 5}, "description must be a string"),
        ({**GOOD, "service_code": ["flooding"]}, "service_code must be a string"),
    ],
)
def test_json_fields_of_the_wrong_type_are_400(
    city: City, store: Store, app_settings: Settings, body: dict[str, Any], message: str
) -> None:
    r = _app(city, store, app_settings).post(URL, json=body)
    assert r.status_code == 400 and message in r.json()[0]["description"], r.json()


def test_deeply_nested_json_is_a_400_not_a_500(
    city: City, store: Store, app_settings: Settings
) -> None:
    c = _app(city, store, app_settings)
    deep = b"[" * 30_000 + b"]" * 30_000  # under the body cap, far past the parser's depth
    r = c.post(URL, content=deep, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()[0]["description"]
    r = c.post("/api/token", content=deep, headers={"content-type": "application/json"})
    assert r.status_code in (400, 422)


def test_kafka_down_is_a_202_and_the_request_is_kept_to_send_later(
    city: City, store: Store, app_settings: Settings
) -> None:
    """Stored first: a Kafka that does not take the ticket leaves it in the web's outbox (the
    background drain sends it), so the answer is 202 and never an error the client would
    retry into a second ticket (test_open311_store_first.py)."""
    down = KafkaBus(
        app_settings.kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{_free_port()}"}),
        timeout_s=1.0,
        retry_after_s=30.0,
    )
    c = _app(city, store, app_settings, down)
    first = c.post(URL, data=GOOD)
    assert first.status_code == 202
    again = c.post(URL, data=GOOD)  # answered from the bus's memory, without trying
    assert again.status_code == 202
    kept = {req.id for req, _ in WebStore(store).open311()}
    assert kept == {first.json()[0]["service_request_id"], again.json()[0]["service_request_id"]}
    assert store.outbox(OPEN311_OUTBOX).unsent() == 2


def test_public_reads_get_coarse_coordinates_keyed_reads_exact(
    city: City, store: Store, app_settings: Settings
) -> None:
    WebStore(store).add_open311(
        Open311RequestRow(
            id="311-a",
            service_code="flooding",
            requested_at=datetime.now(UTC),
            lat=30.28734,
            lon=120.12851,
        )
    )
    c = _app(city, store, app_settings, open311_api_keys=("k-1",))
    public = c.get(URL).json()[0]
    assert (public["lat"], public["long"]) == (30.29, 120.13)
    one = c.get("/open311/v2/requests/311-a.json").json()[0]
    assert (one["lat"], one["long"]) == (30.29, 120.13)
    exact = c.get(URL, headers={"x-api-key": "k-1"}).json()[0]
    assert (exact["lat"], exact["long"]) == (30.28734, 120.12851)
    assert c.get(URL, params={"api_key": "nope"}).json()[0]["lat"] == 30.29
