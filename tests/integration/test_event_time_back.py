"""Event time that runs backwards through the incident job, against the real broker and store:
evidence older than its cell's newest by more than `max_lateness_s` goes to the DLQ with its
reason, evidence a little out of order is fused, an incident's time never goes back, and the
outbox (whose leases run on the store's wall clock, not on event time) sends every message at
once, each key once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from citybrain.config import Settings
from citybrain.runtime import run_job
from citybrain.store import Store
from citybrain.streams.topics import Topics

from .conftest import produce, read_topic
from .test_incidents_pipeline import obs, record

pytestmark = pytest.mark.integration


def test_event_time_jumping_back_is_late_or_fused_and_every_message_goes_out(
    live_settings: Settings,
) -> None:
    s = live_settings
    topics = Topics(s.kafka.topic_prefix)
    first, newest = obs("a"), obs("b", 5, at=(120.1284, 30.2871))
    reset = obs("x", -120, at=(120.1284, 30.2871))  # two hours back: a clock set back
    shuffled = obs("y", -30, at=(120.1284, 30.2871))  # half an hour back: within lateness
    produce(
        s.kafka.bootstrap_servers,
        topics.observations,
        [record(o) for o in (first, newest, reset, shuffled)],
    )
    stats = run_job("incidents", s, stop=threading.Event(), idle_exit_s=3.0, first_wait_s=60.0)

    (dead,) = read_topic(s.kafka.bootstrap_servers, topics.dlq)
    assert dict(dead.headers)["dlq.reason"] == b"late_observation"
    assert b'"id":"x"' in dead.value
    assert stats["dlq.late_observation"] == 1

    store = Store.from_url(s.store.url)
    assert sorted(e.observation_id for e in store.evidence()) == ["a", "b", "y"]
    incidents = store.incidents()
    assert all(i.status != "resolved" for i in incidents)  # no timeout from a clock going back
    assert max(i.updated_at for i in incidents) == newest.observed_at  # time never went back
    keys = Counter(
        dict(r.headers)["idempotency-key"]
        for r in read_topic(s.kafka.bootstrap_servers, topics.incidents)
    )
    assert keys and max(keys.values()) == 1
    assert store.outbox("incidents").unsent() == 0  # sent at once, not held by a lease
