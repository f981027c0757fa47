"""The load run's continuous mode: a city's input never pauses, so no poll comes back empty.

The simulated city leaves gaps (a camera every few seconds, a ticket every few), and a job
whose poll comes back empty runs its tick: the demo's input let expiry, hot-spot closing and
digests run by accident. Here a keep-alive stream fills every gap of the incident job's input:
harmless dispatcher feedback (`accept` of an incident no one holds, which the job counts and
drops) on every partition of `<prefix>.feedback`, a record per partition each quarter of the
poll timeout. Incidents must still resolve on time (`overdue`), with a short idle timeout
so that a run of minutes can tell, and memory must stay flat (the load run's own verdict).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from citybrain.config import Settings
from citybrain.core.messages import Feedback
from citybrain.store import Store
from citybrain.streams.kafka_io import make_producer
from citybrain.streams.topics import Topics

log = logging.getLogger(__name__)
IDLE_RESOLVE_S = 60.0  # incidents.idle_resolve_s in this mode (the city's default is 12 h)
SLACK_S = 30.0  # how late past its idle timeout an incident may resolve (ticks, batches)
KEEP_ALIVE_INCIDENT = "load-keep-alive"  # an incident id that never exists


def continuous_settings(s: Settings) -> Settings:
    """Short idle, reopen and lateness times, so incidents resolve and are forgotten (their
    replay-guard entries with them) within a run of minutes."""
    inc = s.incidents.model_copy(
        update={"idle_resolve_s": IDLE_RESOLVE_S, "reopen_s": 60.0, "max_lateness_s": 120.0}
    )
    return s.model_copy(update={"incidents": inc})


class KeepAlive:
    """A thread sending a feedback record to every partition every `every_s` seconds."""

    def __init__(self, settings: Settings, every_s: float) -> None:
        self.settings = settings
        self.every_s = every_s
        self.sent = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="keep-alive", daemon=True)

    def start(self) -> KeepAlive:
        self.thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)

    def _run(self) -> None:
        topic = Topics(self.settings.kafka.topic_prefix).feedback
        producer = make_producer(self.settings.kafka)
        try:
            partitions = sorted(producer.partitions_for(topic))
            while not self.stop.wait(self.every_s):
                fb = Feedback(
                    incident_id=KEEP_ALIVE_INCIDENT, action="accept", actor="load",
                    at=datetime.now(UTC),
                )  # fmt: skip
                value = fb.model_dump_json().encode()
                for p in partitions:
                    producer.send(topic, value=value, key=b"keep-alive", partition=p)
                    self.sent += 1
            producer.flush(10)
        finally:
            producer.close(10)


def overdue(store: Store, idle_resolve_s: float, slack_s: float = SLACK_S) -> dict[str, Any]:
    """Incidents still open although their last evidence is older than the idle timeout (and
    the slack) before the newest evidence of the run: expiry did not run."""
    incidents = store.incidents(limit=1_000_000)
    newest = max((e.observed_at for e in store.evidence()), default=None)
    if newest is None:
        return {"incidents": len(incidents), "overdue": 0, "resolved_by_timeout": 0}
    due = newest - timedelta(seconds=idle_resolve_s + slack_s)
    late = [i.id for i in incidents if i.status != "resolved" and i.updated_at < due]
    return {
        "incidents": len(incidents),
        "due_before": due.isoformat(),
        "should_have_resolved": sum(1 for i in incidents if i.updated_at < due),
        "resolved_by_timeout": sum(1 for i in incidents if i.resolved_by == "timeout"),
        "overdue": len(late),
        "overdue_ids": late[:20],
    }
