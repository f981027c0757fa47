"""Users in config: validated at load and against the city; passwords only as argon2 hashes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from citybrain.cli import app as cli
from citybrain.config import Settings
from citybrain.config.web import WebSettings, WebUser
from citybrain.core.city import City
from citybrain.errors import ConfigError
from citybrain.store import Store
from citybrain.web.app import create_app
from citybrain.web.auth import Auth, hash_password


def test_user_rules() -> None:
    h = hash_password("pw")
    with pytest.raises(ValidationError, match="a dispatcher needs a department"):
        WebUser(username="d", role="dispatcher", password_hash=h)
    with pytest.raises(ValidationError, match="password_hash"):
        WebUser(username="d", role="operator", password_hash="plain-text-password")
    with pytest.raises(ValidationError, match="role"):
        WebUser(username="d", role="superuser", password_hash=h)  # type: ignore[arg-type]


def test_users_must_name_real_departments_and_be_unique(
    city: City, settings: Settings, tmp_path: object
) -> None:
    h = hash_password("pw")
    web = WebSettings(
        users=(
            WebUser(
                username="a", role="dispatcher", department="ministry_of_magic", password_hash=h
            ),
            WebUser(username="b", role="operator", password_hash=h),
            WebUser(username="b", role="admin", password_hash=h),
        )
    )
    store = Store.from_url("sqlite:///:memory:")
    with pytest.raises(ConfigError) as e:
        create_app(city, store, settings.model_copy(update={"web": web}))
    assert e.value.problems == [
        "web.users: a: unknown department 'ministry_of_magic'",
        "web.users: duplicate username 'b'",
    ]


def test_demo_users_verify_with_their_documented_passwords(settings: Settings) -> None:
    auth = Auth(settings.web)
    assert auth.verify("drainage", "drainage-demo") is not None
    assert auth.verify("drainage", "operator-demo") is None
    assert auth.verify("nobody", "drainage-demo") is None


def test_hash_password_command() -> None:
    result = CliRunner().invoke(cli, ["hash-password"], input="s3cret\ns3cret\n")
    assert result.exit_code == 0, result.output
    h = result.output.strip().splitlines()[-1]
    user = WebUser(username="x", role="admin", password_hash=h)
    assert Auth(WebSettings(users=(user,))).verify("x", "s3cret") is not None
