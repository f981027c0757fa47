"""The dispatch stage over a real SQLite store under the real worker loop (streams/testing.py,
in-memory consumer; no broker, no model: `llm.enabled` off), with one flooding incident to
write and send in its successive states."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.core.incident import Incident
from citybrain.core.messages import Dispatch, GeoPoint
from citybrain.core.routing import route
from citybrain.core.summary import template_summary
from citybrain.store import IncidentWrite, Store
from citybrain.streams.testing import Incoming, StageHarness
from citybrain.streams.topics import Topics
from pipelines.dispatch import DispatchStage


@dataclass
class DispatchRig:
    settings: Settings
    city: City
    store: Store
    topics: Topics = field(default_factory=lambda: Topics("t"))
    at: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(hours=1))
    worker: StageHarness | None = None

    @classmethod
    def make(cls, settings: Settings, city: City, tmp_path: Path) -> DispatchRig:
        s = settings.model_copy(
            update={
                "store": settings.store.model_copy(update={"url": f"sqlite:///{tmp_path}/s.db"}),
                "llm": settings.llm.model_copy(update={"enabled": False}),
            }
        )
        return cls(s, city, Store.from_url(s.store.url))

    def incident(self) -> Incident:
        return Incident(
            id="inc-1", category="flooding", district="xicheng",
            location=GeoPoint(lon=120.128, lat=30.287), opened_at=self.at, updated_at=self.at,
            evidence_ids=("o1",), ticket_count=1,
            routing=route(self.city, "flooding", "xicheng"),
        )  # fmt: skip

    def stage(self) -> DispatchStage:
        """A new stage (a restarted job) over the same store; `send` goes through it."""
        stage = DispatchStage(self.settings, self.city, self.topics, self.store, deliver=False)
        self.worker = StageHarness(stage)
        return stage

    def write(self, state: Incident) -> None:
        summary = template_summary(self.city, state)
        self.store.write_incidents([IncidentWrite(replace(state, summary=summary))])

    def send(self, state: Incident) -> list[Dispatch]:
        """Dispatches leave through the outbox, after the store write."""
        assert self.worker is not None, "call stage() first"
        msg = replace(state, summary=template_summary(self.city, state)).to_message()
        run = self.worker.run([Incoming(self.topics.incidents, msg, state.id.encode())])
        return [Dispatch.model_validate_json(o.value) for o in run.outputs]
