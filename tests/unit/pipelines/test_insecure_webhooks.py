"""The dispatch job refuses to start with a webhook over plain http or without a signing secret
(before, it sent them with a warning): dispatches carry summaries and citizens' redacted words,
and an unsigned one cannot be told from a forgery. `dispatch.allow_insecure_webhooks` is the
explicit opt-in for a local test receiver."""

from __future__ import annotations

from pathlib import Path

import pytest

from citybrain.config import Settings
from citybrain.config.dispatch import DispatchSettings
from citybrain.core.city import City
from citybrain.delivery.webhooks import insecure_webhooks
from citybrain.errors import ConfigError
from citybrain.store import Store
from citybrain.streams.topics import Topics
from pipelines.dispatch import DispatchStage


def test_http_or_unsigned_webhooks_stop_the_dispatch_job(
    settings: Settings, city: City, tmp_path: Path
) -> None:
    dispatch = DispatchSettings(webhooks={"city_roads": "http://roads.example/hook"})
    s = settings.model_copy(
        update={
            "dispatch": dispatch,
            "llm": settings.llm.model_copy(update={"enabled": False}),
        }
    )
    store = Store.from_url(f"sqlite:///{tmp_path}/s.db")
    with pytest.raises(ConfigError) as e:
        DispatchStage(s, city, Topics("t"), store)
    assert e.value.problems == [
        "dispatch.webhooks: city_roads: http://roads.example/hook is not https "
        "(dispatch.allow_insecure_webhooks: true for a local test receiver)",
        "dispatch.webhook_secrets: city_roads has none: its webhooks would go unsigned "
        "(set CITYBRAIN_DISPATCH__WEBHOOK_SECRETS)",
    ]


def test_signed_https_webhooks_or_the_explicit_opt_in_are_accepted() -> None:
    urls = {"city_roads": "https://roads.example/hook"}
    signed = DispatchSettings(webhook_secrets={"city_roads": ["k"]})
    assert insecure_webhooks(urls, signed) == []
    assert len(insecure_webhooks(urls, DispatchSettings())) == 1  # https, but unsigned
    local = {"city_roads": "http://127.0.0.1:9/hook"}
    assert insecure_webhooks(local, DispatchSettings(allow_insecure_webhooks=True)) == []
