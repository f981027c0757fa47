"""Changing a password (a new hash in `web.users`, the servers restarted) ends the sessions and
tokens opened with the old one: a stolen cookie stops working when its owner changes the
password, not when it expires."""

from __future__ import annotations

from fastapi.testclient import TestClient

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.store import Store
from citybrain.web.app import create_app
from citybrain.web.auth import hash_password

from .conftest import PASSWORDS


def _token(c: TestClient, user: str, password: str) -> dict[str, str]:
    r = c.post("/api/token", json={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['token']}"}


def test_a_new_password_ends_the_old_sessions_and_only_its_owners(
    city: City, store: Store, app_settings: Settings
) -> None:
    before = TestClient(create_app(city, store, app_settings))
    drainage = _token(before, "drainage", PASSWORDS["drainage"])
    roads = _token(before, "roads", PASSWORDS["roads"])
    users = tuple(
        u.model_copy(update={"password_hash": hash_password("a-new-long-password")})
        if u.username == "drainage"
        else u
        for u in app_settings.web.users
    )
    s = app_settings.model_copy(
        update={"web": app_settings.web.model_copy(update={"users": users})}
    )
    after = TestClient(create_app(city, store, s))  # same session key, the new hash
    r = after.get("/api/incidents", headers=drainage)
    assert r.status_code == 401 and "password changed" in r.json()["detail"]
    assert after.get("/api/incidents", headers=roads).status_code == 200
    fresh = _token(after, "drainage", "a-new-long-password")
    assert after.get("/api/incidents", headers=fresh).status_code == 200
