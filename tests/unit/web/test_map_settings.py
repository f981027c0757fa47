"""web.map and web.default_language: bad values are refused with the key named, and a
configured basemap's tile server (only it) is let into the page's CSP."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from citybrain.config import Settings
from citybrain.config.web import MapSettings, WebSettings
from citybrain.core.city import City
from citybrain.store import Store
from citybrain.web.app import create_app

from .conftest import PASSWORDS


@pytest.mark.parametrize(
    "style",
    [
        "http://tiles.example/{z}/{x}/{y}.png",  # plain http: tiles readable and changeable
        "https://tiles.example/tiles.png",  # no {z}: not a tile template
        "https://tiles.example/{z}/{x}/{y}.png' onerror='x",  # breaks out of an attribute
        "javascript:alert(1)//{z}",
    ],
)
def test_a_bad_basemap_is_refused(style: str) -> None:
    with pytest.raises(ValidationError, match="style"):
        MapSettings(style=style)


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValidationError, match="default_language"):
        WebSettings(default_language="fr")  # type: ignore[arg-type]


def test_the_basemap_origin_alone_joins_the_csp(
    city: City, store: Store, app_settings: Settings
) -> None:
    tiles = "https://tiles.city.example/{z}/{x}/{y}.png"
    web = app_settings.web.model_copy(
        update={"map": MapSettings(style=tiles, attribution="© City Survey")}
    )
    c = TestClient(create_app(city, store, app_settings.model_copy(update={"web": web})))
    c.post("/login", data={"username": "operator", "password": PASSWORDS["operator"]})
    r = c.get("/")
    csp = r.headers["content-security-policy"]
    assert "img-src 'self' data: https://tiles.city.example;" in csp
    assert "script-src 'self';" in csp and "connect-src 'self';" in csp
    assert tiles.replace("/", "\\/") in r.text or tiles in r.text  # in the map's config
    offline = TestClient(create_app(city, store, app_settings))
    assert "tiles.city.example" not in offline.get("/healthz").headers["content-security-policy"]
