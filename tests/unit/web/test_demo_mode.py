"""Only `web.demo_mode` opens the demo's doors, whatever address the server listens on (a proxy
on the same host forwards the whole city to 127.0.0.1): the documented demo accounts, /metrics
and keyless Open311 for anyone, cookies without Secure. Without it the server refuses to start
with the demo accounts or a published or short session key; `citybrain demo` turns it on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.demo import Demo
from citybrain.errors import ConfigError
from citybrain.store import Store
from citybrain.web.app import create_app

from .conftest import PASSWORDS, SERVED_PASSWORDS

ROOT = Path(__file__).resolve().parents[3]
OPEN311 = {"service_code": "flooding", "lat": "30.28", "long": "120.12", "description": "water"}


def _with(settings: Settings, **web: object) -> Settings:
    return settings.model_copy(update={"web": settings.web.model_copy(update=web)})


def _env_value(path: Path, key: str) -> str:
    for line in path.read_text().splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1]
    raise AssertionError(f"{key} not in {path}")


def test_the_shipped_config_does_not_serve_its_demo_accounts(
    city: City, store: Store, settings: Settings
) -> None:
    assert settings.web.demo_mode is False and settings.web.host == "127.0.0.1"
    with pytest.raises(ConfigError) as e:
        create_app(city, store, settings)
    [problem] = e.value.problems
    assert "operator, admin, drainage, roads, sanitation, triage" in problem
    assert "documented demo password" in problem and "web.demo_mode" in problem


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        (_env_value(ROOT / "k8s/overlays/dev/web.env", "session_secret"), "published"),
        (
            _env_value(ROOT / "k8s/overlays/production/web-secrets.env.example", "session_secret"),
            "published",
        ),
        ("test-secret", "shorter than 32"),
    ],
)
def test_a_published_or_short_session_key_stops_the_start(
    city: City, store: Store, served_settings: Settings, secret: str, why: str
) -> None:
    with pytest.raises(ConfigError) as e:
        create_app(city, store, _with(served_settings, session_secret=secret))
    assert len(e.value.problems) == 1 and why in e.value.problems[0]
    create_app(city, store, _with(served_settings, session_secret=""))  # random per process
    create_app(city, store, _with(served_settings, session_secret=secret, demo_mode=True))


def test_loopback_is_not_demo(city: City, store: Store, served_settings: Settings) -> None:
    """On 127.0.0.1 without demo mode: /metrics needs a token or an operator, Open311 needs a
    key, and the session cookie is Secure."""
    c = TestClient(create_app(city, store, served_settings), follow_redirects=False)
    assert served_settings.web.host == "127.0.0.1"
    assert c.get("/metrics").status_code == 403
    assert c.post("/open311/v2/requests.json", data=OPEN311).status_code == 403
    r = c.post("/login", data={"username": "ops", "password": SERVED_PASSWORDS["ops"]})
    assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()
    t = c.post("/api/token", json={"username": "ops", "password": SERVED_PASSWORDS["ops"]})
    bearer = {"authorization": f"Bearer {t.json()['token']}"}
    assert c.get("/metrics", headers=bearer).status_code == 200  # an operator's session


def test_demo_mode_opens_the_demo_doors_on_any_address(
    city: City, store: Store, app_settings: Settings
) -> None:
    s = _with(app_settings, host="0.0.0.0")
    assert s.web.demo_mode
    c = TestClient(create_app(city, store, s), follow_redirects=False)
    assert c.get("/metrics").status_code == 200
    assert c.post("/open311/v2/requests.json", data=OPEN311).status_code == 503  # admitted
    r = c.post("/login", data={"username": "admin", "password": PASSWORDS["admin"]})
    assert r.status_code == 303 and "secure" not in r.headers["set-cookie"].lower()


def test_citybrain_web_with_the_shipped_config_refuses_to_start(tmp_path: Path) -> None:
    """As a user would start it: `citybrain web` exits before serving, saying why."""
    env = {
        **os.environ,
        "CITYBRAIN_STORE__URL": f"sqlite:///{tmp_path}/web.db",
        "PYTHONPATH": str(ROOT),
    }
    run = subprocess.run(
        [sys.executable, "-m", "citybrain", "web", "--config", str(ROOT / "config/citybrain.yaml")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr[-2000:]
    assert "admin" in run.stderr and "documented demo password" in run.stderr


def test_citybrain_demo_turns_demo_mode_on_for_itself(settings: Settings, tmp_path: Path) -> None:
    assert Demo(settings, tmp_path).settings.web.demo_mode is True
