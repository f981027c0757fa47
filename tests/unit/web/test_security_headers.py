"""Pages run no inline script and cannot be framed; the dashboard's config is JSON data that a
hostile name in the city files cannot break out of."""

from __future__ import annotations

import json
import re

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.store import Store
from citybrain.web.app import create_app

from .conftest import PASSWORDS, ClientFor


def test_every_response_carries_csp_and_frame_protection(client_for: ClientFor) -> None:
    c = client_for("operator")
    for path in ("/", "/login", "/api/incidents", "/healthz", "/static/style.css"):
        h = c.get(path).headers
        assert "script-src 'self'" in h["content-security-policy"], path
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff"


def test_no_inline_script_on_any_page(client_for: ClientFor) -> None:
    c = client_for("drainage")
    for path in ("/", "/inbox", "/incidents", "/incidents/flood-1", "/login"):
        html = c.get(path).text
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert not re.search(r"\son[a-z]+=", html), path  # no inline event handlers


def test_dashboard_config_survives_a_hostile_name(
    city: City, store: Store, app_settings: Settings
) -> None:
    evil = "</script><script>alert(1)</script>"
    d0 = city.departments[0].model_copy(update={"name": evil, "name_zh": evil})
    hostile = city.model_copy(update={"departments": (d0, *city.departments[1:])})
    from fastapi.testclient import TestClient

    c = TestClient(create_app(hostile, store, app_settings), follow_redirects=False)
    c.post("/login", data={"username": "operator", "password": PASSWORDS["operator"]})
    html = c.get("/").text
    assert "<script>alert(1)</script>" not in html
    m = re.search(
        r'<script type="application/json" id="citybrain-config">(.*?)</script>', html, re.S
    )
    assert m
    assert json.loads(m.group(1))["departments"][d0.id] == evil
