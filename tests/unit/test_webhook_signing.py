"""Webhooks are signed: HMAC over timestamp and body with the department's secret(s), sent by a
real sender to a real HTTP receiver; forged, altered and stale requests do not verify."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from citybrain.config.dispatch import DispatchSettings
from citybrain.delivery.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from citybrain.delivery.webhooks import DepartmentSender
from citybrain.store import Store
from citybrain.store.model_step import Delivery, add_delivery
from tests.integration.fake_servers import webhook_receiver


def test_signatures_verify_only_with_the_secret_the_body_and_a_fresh_time() -> None:
    body = b'{"incident_id": "i-1"}'
    h = sign(["s-new", "s-old"], body, now=1_000_000)
    ts, sig = h[TIMESTAMP_HEADER], h[SIGNATURE_HEADER]
    assert verify("s-new", body, ts, sig, now=1_000_100)
    assert verify("s-old", body, ts, sig, now=1_000_100)  # rotation: both secrets sign
    assert not verify("s-wrong", body, ts, sig, now=1_000_100)
    assert not verify("s-new", body + b" ", ts, sig, now=1_000_100)  # altered body
    assert not verify("s-new", body, str(int(ts) + 1), sig, now=1_000_100)  # altered time
    assert not verify("s-new", body, ts, sig, now=1_000_000 + 301)  # replayed later
    assert not verify("s-new", body, None, sig) and not verify("s-new", body, ts, "v1=00")
    assert sign([], body) == {}
    assert DispatchSettings(webhook_secrets={"a": "one"}).webhook_secrets == {"a": ["one"]}


def test_the_sender_signs_every_attempt(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path}/s.db")
    settings = DispatchSettings(webhook_secrets={"city_roads": ["roads-secret"]}, backoff_s=0.1)
    with webhook_receiver(200) as hook:
        url = f"http://127.0.0.1:{hook.server_address[1]}/hook"
        with store.sessions.begin() as s:
            add_delivery(s, Delivery("d1", "city_roads", url, '{"x": 1}'), datetime.now(UTC))
        sender = DepartmentSender("city_roads", store, settings)
        try:
            assert sender.send_due() == 1
        finally:
            sender.close()
    [req] = hook.requests
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert verify(
        "roads-secret",
        req["raw"],
        headers[TIMESTAMP_HEADER.lower()],
        headers[SIGNATURE_HEADER.lower()],
    )
