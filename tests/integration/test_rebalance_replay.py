"""The same offsets delivered twice, against the real broker and store: a worker processes a
batch, writes it, sends its messages and marks them sent, and leaves the group without
committing (killed just before the commit); the next worker of the group is given the same
records. The store holds each incident and each dispatch once, and each idempotency key
reaches the output topic once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from citybrain.config import Settings
from citybrain.runtime import run_job
from citybrain.store import Store
from citybrain.streams import crash
from citybrain.streams.topics import Topics

from .conftest import produce, read_topic
from .test_incidents_pipeline import obs, record

pytestmark = pytest.mark.integration


def run(job: str, s: Settings) -> dict[str, int]:
    return run_job(job, s, stop=threading.Event(), idle_exit_s=3.0, first_wait_s=30.0)


def processed_then_left_uncommitted(
    job: str, s: Settings, monkeypatch: pytest.MonkeyPatch
) -> dict[str, int]:
    """The first worker dies after everything but its commit; the second gets the same
    offsets. Returns the second worker's counters."""
    crash.reset()
    monkeypatch.setenv(crash.ENV_AT, f"{job}.after_mark_sent:1")
    monkeypatch.setenv(crash.ENV_MODE, "raise")
    with pytest.raises(crash.SimulatedCrash):
        run(job, s)
    monkeypatch.delenv(crash.ENV_AT)
    return run(job, s)


def keys_on(s: Settings, topic: str) -> Counter[bytes]:
    return Counter(
        dict(r.headers)["idempotency-key"]
        for r in read_topic(s.kafka.bootstrap_servers, topic)
        if "follow-up" not in dict(r.headers)  # a model summary's second delivery (none here)
    )


def test_incidents_delivered_twice_are_stored_and_announced_once(
    live_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = live_settings
    topics = Topics(s.kafka.topic_prefix)
    a, b = obs("a"), obs("b", 5, at=(120.1284, 30.2871))
    c = obs("c", 2, at=(120.155, 30.272), district="beicheng")
    produce(s.kafka.bootstrap_servers, topics.observations, [record(o) for o in (a, b, c)])

    second = processed_then_left_uncommitted("incidents", s, monkeypatch)
    assert second["consumed"] == 3  # the same offsets, read again by the next owner
    assert second["duplicate_observations"] == 3  # recognised as applied: nothing new

    store = Store.from_url(s.store.url)
    assert sorted(e.observation_id for e in store.evidence()) == ["a", "b", "c"]
    incidents = store.incidents()
    assert len(incidents) == 2
    keys = keys_on(s, topics.incidents)
    assert max(keys.values()) == 1, keys  # each incident state announced once
    latest = {f"{i.id}:{len(store.incident(i.id)[1])}:{i.status}:0".encode() for i in incidents}  # type: ignore[index]
    assert latest <= set(keys)
    assert store.outbox("incidents").unsent() == 0


def test_dispatches_delivered_twice_are_made_and_sent_once(
    live_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = live_settings.model_copy(
        update={"llm": live_settings.llm.model_copy(update={"enabled": False})}
    )
    topics = Topics(s.kafka.topic_prefix)
    a, c = obs("a"), obs("c", 2, at=(120.155, 30.272), district="beicheng")
    produce(s.kafka.bootstrap_servers, topics.observations, [record(o) for o in (a, c)])
    run("incidents", s)

    second = processed_then_left_uncommitted("dispatch", s, monkeypatch)
    assert second["consumed"] == 2  # both incident messages again
    assert not any(k.startswith("dispatched.") for k in second)  # and no dispatch made twice

    store = Store.from_url(s.store.url)
    made = store.dispatches()
    assert len(made) == 2 and len({d.incident_id for d in made}) == 2
    assert keys_on(s, topics.dispatch) == Counter({d.id.encode(): 1 for d in made})
    assert store.outbox("dispatch").unsent() == 0
