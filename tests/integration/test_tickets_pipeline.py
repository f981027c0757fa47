"""The ticket pipeline against the real broker: redaction, DLQ for bad input, commits."""

from __future__ import annotations

import json
import re
import threading
import time

import httpx
import pytest

from citybrain.config import Settings
from citybrain.core.messages import Observation
from citybrain.runtime import run_job
from citybrain.streams.topics import Topics

from .conftest import free_port, produce, read_topic

pytestmark = pytest.mark.integration


def ticket(tid: str, text: str, **extra: object) -> bytes:
    return json.dumps(
        {"ticket_id": tid, "received_at": "2026-05-01T08:00:00+00:00", "text": text, **extra},
        ensure_ascii=False,
    ).encode()


def run_tickets(s: Settings) -> dict[str, int]:
    return run_job("tickets", s, stop=threading.Event(), idle_exit_s=2.0, first_wait_s=15.0)


def test_tickets_become_redacted_located_observations_and_bad_ones_are_dead_lettered(
    live_settings: Settings,
) -> None:
    s = live_settings
    topics = Topics(s.kafka.topic_prefix)
    good = [
        ticket("T-1", "新华路与中山路交叉口积水严重，我叫王芳，电话13812345678", language="zh"),
        ticket("T-2", "Pothole near Central Park, call (555) 123-4567", language="en"),
        ticket("T-3", "Noise every night", location={"lon": 121.5, "lat": 31.2}),  # outside city
        ticket("T-4", "When does the tax office open?"),
    ]
    bad = [
        (b"{not json", "invalid_json"),
        (ticket("T-5", ""), "invalid_ticket"),  # empty text
        (json.dumps({"ticket_id": "T-6", "text": "no time"}).encode(), "invalid_ticket"),
        (ticket("T-7", "x" * 70_000), "oversized_ticket"),
    ]
    produce(
        s.kafka.bootstrap_servers,
        topics.tickets,
        [(None, v, []) for v in good] + [(None, v, [("channel", b"web")]) for v, _ in bad],
    )
    counters = run_tickets(s)
    assert counters["consumed"] == 8
    assert counters["tickets"] == 4 and counters["dlq"] == 4

    obs = {
        o.source_id: o
        for o in (
            Observation.model_validate_json(r.value)
            for r in read_topic(s.kafka.bootstrap_servers, topics.observations)
        )
    }
    assert obs["T-1"].category == "flooding" and obs["T-1"].district == "xicheng"
    assert "13812345678" not in (obs["T-1"].text or "") and "王芳" not in (obs["T-1"].text or "")
    assert obs["T-2"].category == "pothole" and obs["T-2"].precision == "point"
    assert "555" not in (obs["T-2"].text or "")
    assert (obs["T-3"].precision, obs["T-3"].district) == ("unlocated", None)
    assert obs["T-4"].category == "unclassified"
    keys = {r.key for r in read_topic(s.kafka.bootstrap_servers, topics.observations)}
    # Keyed by geo cell (the sample city is one resolution-4 cell), unlocated ones apart.
    assert keys == {b"cell:84309a5ffffffff", b"cell:unlocated"}

    dead = read_topic(s.kafka.bootstrap_servers, topics.dlq)
    reasons = sorted(dict(r.headers)["dlq.reason"].decode() for r in dead)
    assert reasons == sorted(reason for _, reason in bad)
    for r in dead:
        h = dict(r.headers)
        assert h["dlq.stage"] == b"tickets" and h["dlq.source_topic"] == topics.tickets.encode()
        assert h["channel"] == b"web"  # original headers travel with the record
    oversized = next(r for r in dead if dict(r.headers)["dlq.reason"] == b"oversized_ticket")
    # Redacted and cut to the largest ticket accepted; the whole record stays at its offset.
    assert dict(oversized.headers)["dlq.redacted"] == b"True"
    assert len(oversized.value) <= s.tickets.max_ticket_bytes

    # Offsets were committed: a restarted worker in the same group gets nothing again.
    again = run_tickets(s)
    assert again.get("consumed", 0) == 0


def test_dlq_command_lists_reasons(live_settings: Settings) -> None:
    from typer.testing import CliRunner

    from citybrain.cli import app

    s = live_settings
    produce(
        s.kafka.bootstrap_servers,
        Topics(s.kafka.topic_prefix).tickets,
        [(None, b"{broken", []), (None, ticket("T-9", "pothole at Central Park"), [])],
    )
    run_tickets(s)
    env = {
        "CITYBRAIN_KAFKA__BOOTSTRAP_SERVERS": s.kafka.bootstrap_servers,
        "CITYBRAIN_KAFKA__TOPIC_PREFIX": s.kafka.topic_prefix,
        "COLUMNS": "200",
    }
    result = CliRunner().invoke(app, ["dlq"], env=env)
    assert result.exit_code == 0, result.output
    assert "1 records" in result.output
    assert "by reason: invalid_json 1" in result.output
    assert f"{s.kafka.topic_prefix}.tickets/" in result.output


def test_a_worker_serves_its_own_prometheus_metrics(live_settings: Settings) -> None:
    """With workers.metrics_port set, the job answers /metrics itself while it runs: its
    counters (records, DLQ reasons) and its lag, labelled by job and worker."""
    port = free_port()
    s = live_settings.model_copy(
        update={"workers": live_settings.workers.model_copy(update={"metrics_port": port})}
    )
    topics = Topics(s.kafka.topic_prefix)
    produce(
        s.kafka.bootstrap_servers,
        topics.tickets,
        [(None, ticket("T-1", "Pothole on Xinhua Road"), []), (None, b"{not json", [])],
    )
    line = r'citybrain_worker_counter\{counter="%s",job="tickets",worker="tickets@[^"]+"\} (\S+)'
    stop = threading.Event()
    job = threading.Thread(
        target=run_job, args=("tickets", s), kwargs={"stop": stop, "first_wait_s": 30.0}
    )
    job.start()
    scraped = ""
    try:
        for _ in range(120):  # bounded: up to ~60 s for the group join and the batch
            try:
                scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.TransportError:
                scraped = ""
            consumed = re.search(line % "consumed", scraped)
            if consumed and consumed.group(1) == "2.0":
                break
            time.sleep(0.5)
    finally:
        stop.set()
        job.join(timeout=60)
    assert re.search(line % "consumed", scraped).group(1) == "2.0"  # type: ignore[union-attr]
    assert re.search(line % r"dlq\.invalid_json", scraped).group(1) == "1.0"  # type: ignore[union-attr]
    assert 'citybrain_worker_lag{job="tickets"}' in scraped
    assert not job.is_alive()
    with pytest.raises(httpx.TransportError):  # the endpoint stops with the worker
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
