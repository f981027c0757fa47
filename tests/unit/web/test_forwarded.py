"""Behind a proxy or Ingress every request comes from the proxy's address: X-Forwarded-For
names the client, but only a configured proxy (`web.forwarded_allow_ips`) is believed, so the
per-client limits count citizens, not the proxy, and no client can choose its own address.
The TestClient's peer address is the literal `testclient`."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from citybrain.config import Settings
from citybrain.config.web import WebSettings
from citybrain.core.city import City
from citybrain.store import Store
from citybrain.web.app import create_app


def _app(city: City, store: Store, settings: Settings, **web: Any) -> TestClient:
    s = settings.model_copy(update={"web": settings.web.model_copy(update=web)})
    return TestClient(create_app(city, store, s))


def _sign_in(c: TestClient, user: str, client_ip: str) -> int:
    r = c.post(
        "/api/token",
        json={"username": user, "password": "a wrong guess"},
        headers={"x-forwarded-for": f"{client_ip}, 10.1.2.3"},  # the client, then a hop
    )
    return r.status_code


def test_behind_a_trusted_proxy_each_client_has_its_own_budget(
    city: City, store: Store, app_settings: Settings
) -> None:
    c = _app(
        city,
        store,
        app_settings,
        login_rate_per_client="2/minute",
        forwarded_allow_ips=("testclient", "10.0.0.0/8"),
    )
    assert [_sign_in(c, "roads", "203.0.113.7") for _ in range(2)] == [401, 401]
    assert _sign_in(c, "triage", "203.0.113.7") == 429  # that client's budget is spent
    # ... and only that client's: 20 bad sign-ins do not lock the city out
    assert _sign_in(c, "sanitation", "198.51.100.4") == 401


def test_forwarded_headers_from_any_other_peer_are_ignored(
    city: City, store: Store, app_settings: Settings
) -> None:
    assert app_settings.web.forwarded_allow_ips == ("127.0.0.1",)  # the default
    c = _app(city, store, app_settings, login_rate_per_client="2/minute")
    assert [_sign_in(c, "roads", f"203.0.113.{i}") for i in range(2)] == [401, 401]
    assert _sign_in(c, "triage", "198.51.100.4") == 429  # a made-up address buys nothing


def test_proxies_are_addresses_or_networks() -> None:
    web = WebSettings(forwarded_allow_ips=["10.0.0.0/8", "192.0.2.1"])  # type: ignore[arg-type]
    assert web.forwarded_allow_ips == ("10.0.0.0/8", "192.0.2.1")
