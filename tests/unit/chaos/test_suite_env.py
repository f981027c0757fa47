"""The fault suite's jobs read their settings from the environment it gives them: what the
suite sets in code must survive that trip, or a job refuses to start (as the dispatch job did
when plain-http webhooks came to need an explicit permission)."""

from __future__ import annotations

from pathlib import Path

import pytest

from citybrain.chaos.suite import env_of, scenario
from citybrain.config import Settings
from citybrain.config.loader import load_settings


def test_the_jobs_environment_carries_the_suites_dispatch_settings(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks = {"water_drainage": "http://127.0.0.1:9/hook"}
    s = scenario(settings, "chaos1", "sqlite:///x.db", hooks, None)
    for key, value in env_of(s).items():
        if key.startswith("CITYBRAIN_"):
            monkeypatch.setenv(key, value)
    got = load_settings(Path("config/citybrain.yaml")).dispatch
    assert got.allow_insecure_webhooks is True
    assert got.webhooks == hooks and got.max_attempts == s.dispatch.max_attempts
