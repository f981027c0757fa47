"""Sign-in under attack: attempts per client and failures per account are limited, password
checks are bounded, and a sign-in posted from another site is refused (demo accounts and
cookies without Secure: test_demo_mode.py)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.store import Store
from citybrain.web.app import create_app
from citybrain.web.guards import HashSlots

from .conftest import PASSWORDS


def _app(city: City, store: Store, settings: Settings, **web: Any) -> TestClient:
    s = settings.model_copy(update={"web": settings.web.model_copy(update=web)})
    return TestClient(
        create_app(city, store, s), follow_redirects=False, headers={"accept-language": "en"}
    )


def _token(c: TestClient, user: str, password: str) -> int:
    return c.post("/api/token", json={"username": user, "password": password}).status_code


def test_failures_per_account_are_limited_without_locking_other_accounts(
    city: City, store: Store, app_settings: Settings
) -> None:
    c = _app(city, store, app_settings, login_rate_per_account="3/minute")
    assert [_token(c, "drainage", "guess") for _ in range(3)] == [401, 401, 401]
    r = c.post("/api/token", json={"username": "drainage", "password": PASSWORDS["drainage"]})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert _token(c, "roads", PASSWORDS["roads"]) == 200
    page = c.post("/login", data={"username": "drainage", "password": PASSWORDS["drainage"]})
    assert page.status_code == 429 and "Too many sign-in attempts" in page.text


def test_successful_sign_ins_do_not_spend_the_account_budget(
    city: City, store: Store, app_settings: Settings
) -> None:
    c = _app(city, store, app_settings, login_rate_per_account="2/minute")
    assert [_token(c, "roads", PASSWORDS["roads"]) for _ in range(4)] == [200] * 4


def test_attempts_per_client_are_limited(city: City, store: Store, app_settings: Settings) -> None:
    c = _app(city, store, app_settings, login_rate_per_client="2/minute")
    assert [_token(c, "roads", PASSWORDS["roads"]) for _ in range(2)] == [200, 200]
    assert _token(c, "admin", PASSWORDS["admin"]) == 429


def test_password_checks_are_bounded(city: City, store: Store, app_settings: Settings) -> None:
    c = _app(city, store, app_settings)
    ctx = c.app.state.ctx  # type: ignore[attr-defined]
    ctx.hashes = HashSlots(1, wait_s=0.05)
    with ctx.hashes.slot() as got:  # another sign-in holds the only slot
        assert got
        r = c.post("/api/token", json={"username": "roads", "password": PASSWORDS["roads"]})
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert _token(c, "roads", PASSWORDS["roads"]) == 200


def test_a_sign_in_posted_from_another_site_is_refused(
    city: City, store: Store, app_settings: Settings
) -> None:
    c = _app(city, store, app_settings)
    form = {"username": "operator", "password": PASSWORDS["operator"]}
    evil = c.post("/login", data=form, headers={"origin": "https://evil.example"})
    assert evil.status_code == 403 and "set-cookie" not in evil.headers
    assert c.post("/login", data=form, headers={"sec-fetch-site": "cross-site"}).status_code == 403
    same = c.post("/login", data=form, headers={"origin": "http://testserver"})
    assert same.status_code == 303
    assert c.post("/login", data=form).status_code == 303  # no browser headers: a script
