"""incidents: observation → fuse into incidents → route → store + `<prefix>.dispatch`."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from citybrain.config import Settings
from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.fusion import Fuser, IncidentState
from citybrain.core.ids import stable_id
from citybrain.core.messages import Dispatch, Observation
from citybrain.core.routing import route
from citybrain.core.summary import template_summary
from citybrain.errors import RejectedRecord
from citybrain.store import IncidentWrite, Store
from citybrain.streams.records import InRecord, Output
from citybrain.streams.topics import Topics
from citybrain.streams.worker import Batch


class IncidentStage:
    name = "incidents"

    def __init__(self, settings: Settings, city: City, topics: Topics, store: Store) -> None:
        self.settings = settings.incidents
        self.city = city
        self.topics = topics
        self.store = store
        self.fuser = Fuser(city, settings.incidents)
        self.stats: Counter[str] = Counter()
        # What sink() must write before the commit: incidents with new evidence, new dispatches.
        self._pending: dict[str, IncidentWrite] = {}
        self._dispatches: list[Dispatch] = []
        self._routed: dict[str, str] = {}  # incident id -> department last dispatched to
        self.on_assigned()

    def on_assigned(self) -> None:
        """Rebuild incident state from the store: it is the truth after a restart or rebalance."""
        states = self.store.open_incidents()
        self.fuser.load(states)
        self._routed = {s.id: route(self.city, s.category, s.district).department for s in states}

    def process(self, records: list[InRecord]) -> Batch:
        batch = Batch()
        now = datetime.now(UTC)
        for rec in records:
            try:
                obs = self._parse(rec.value, now)
            except RejectedRecord as err:
                batch.rejected.append((rec, err))
                continue
            result = self.fuser.apply(obs)
            if not result.changed or result.incident is None:
                self.stats["duplicate_observations"] += 1
                continue
            self.stats["incidents_opened" if result.created else "incidents_updated"] += 1
            batch.outputs += self._record(result.incident, obs)
        return batch

    def tick(self) -> Batch:
        batch = Batch()
        for inc in self.fuser.expire():
            self.stats["incidents_resolved"] += 1
            batch.outputs += self._record(inc, None)
        return batch

    def sink(self) -> None:
        if self._pending or self._dispatches:
            self.store.write_incidents(self._pending.values(), self._dispatches)
        self._pending.clear()
        self._dispatches.clear()

    def _parse(self, raw: bytes, now: datetime) -> Observation:
        try:
            obs = Observation.model_validate_json(raw)
        except ValidationError as e:
            raise RejectedRecord("invalid_observation", str(e.errors()[0]["msg"])) from e
        if obs.category != UNCLASSIFIED and obs.category not in self.city.category_by_id:
            raise RejectedRecord("unknown_category", obs.category)
        if obs.source == "camera" and obs.source_id not in self.city.camera_by_id:
            raise RejectedRecord("unknown_camera", obs.source_id)
        skew = timedelta(seconds=self.settings.max_clock_skew_s)
        if not now - skew <= obs.observed_at <= now + skew:
            raise RejectedRecord("timestamp_out_of_range", obs.observed_at.isoformat())
        return obs

    def _record(self, inc: IncidentState, obs: Observation | None) -> list[Output]:
        """Queue the incident for the store; dispatch when it is new or its department changed."""
        routing = route(self.city, inc.category, inc.district)
        summary = template_summary(self.city, inc)
        evidence = self._pending[inc.id].evidence if inc.id in self._pending else []
        if obs is not None:
            evidence.append(obs)
        self._pending[inc.id] = IncidentWrite(inc, routing, summary, evidence)
        if self._routed.get(inc.id) == routing.department:
            return []
        self._routed[inc.id] = routing.department
        dispatch = Dispatch(
            id=stable_id("dsp", inc.id, routing.department),
            incident_id=inc.id,
            department=routing.department,
            category=inc.category,
            district=inc.district,
            severity=inc.severity,
            created_at=inc.updated_at,
            routing=routing,
            summary=summary,
        )
        self._dispatches.append(dispatch)
        self.stats[f"dispatched.{routing.department}"] += 1
        return [
            Output(
                topic=self.topics.dispatch,
                key=routing.department.encode(),
                value=dispatch.model_dump_json().encode(),
                headers=[("idempotency-key", dispatch.id.encode())],
            )
        ]
