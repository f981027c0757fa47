"""incidents: observation → fuse into incidents → store + `<prefix>.incidents`, where the dispatch
job summarises and routes them; dispatcher feedback (`<prefix>.feedback`) resolves incidents;
ticket bursts raise hot spots; ticket texts about one specific problem make hot issues.

Every message about a change (incident versions, hot-spot alerts, digests) goes through the
job's transactional outbox: written in the transaction that stores the change, sent by the
worker after the commit. A crash between the store write and the send therefore cannot lose
it, though the replayed observation is then recognised as already applied."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from citybrain.config import Settings
from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.dispatcher_actions import resolve_is_stale
from citybrain.core.fusion import Fuser, FusionResult
from citybrain.core.ids import incident_version
from citybrain.core.incident import Incident
from citybrain.core.messages import Feedback, Observation
from citybrain.core.routing import route
from citybrain.core.summary import template_summary
from citybrain.errors import RejectedRecord
from citybrain.store import IncidentWrite, Store
from citybrain.store.outbox import Outbox as StoreOutbox
from citybrain.streams.jobs import JobSpec
from citybrain.streams.records import InRecord, Output
from citybrain.streams.stage import Batch, Stage
from citybrain.streams.topics import Topics
from citybrain.text.paraphrase import ParaphraseMatcher
from citybrain.text.paraphrase_encoder import EncoderMatcher
from pipelines.hot_issue_step import HotIssueStep
from pipelines.hotspot_step import HotspotStep


class IncidentStage(Stage):
    name = "incidents"

    def __init__(self, settings: Settings, city: City, topics: Topics, store: Store) -> None:
        self.settings = settings.incidents
        self.city = city
        self.topics = topics
        self.store = store
        # report texts are held only where the paraphrase join is on (off by default)
        matcher: EncoderMatcher | ParaphraseMatcher | None = None
        if settings.incidents.paraphrase_similarity is not None:
            encoder = settings.incidents.paraphrase_matcher == "encoder"
            matcher = (EncoderMatcher if encoder else ParaphraseMatcher).for_city(city)
        self.fuser = Fuser(city, settings.incidents, matcher=matcher)
        self.stats: Counter[str] = Counter()
        # What sink() must write before the commit: incidents with new evidence, and the
        # messages announcing changes (into the outbox, in the same transactions).
        self._pending: dict[str, IncidentWrite] = {}
        self._out: list[Output] = []
        self._hot_out: list[Output] = []
        self._issue_out: list[Output] = []
        self.outbox: StoreOutbox = store.outbox(self.name, settings.workers.outbox_lease_s)
        self.hotspots = HotspotStep(settings, topics, store, self.stats)
        self.hot_issues = HotIssueStep(settings, topics, store, self.stats)
        self.on_assigned()

    def on_assigned(self) -> None:
        """Rebuild incident state from the store: it is the truth after a restart, a rebalance
        or a database outage (what was not written is dropped here and replayed from Kafka).
        Recently resolved incidents come too, so returning evidence reopens them."""
        self._pending.clear()
        self._out.clear()
        self._hot_out.clear()
        self._issue_out.clear()
        horizon = self.settings.max_clock_skew_s + self.settings.reopen_s
        since = datetime.now(UTC) - timedelta(seconds=horizon)
        states = self.store.open_incidents(resolved_since=since)
        texts = self.store.ticket_texts([s.id for s in states]) if self.fuser.matcher else None
        self.fuser.load(states, texts)
        self.hotspots.reload(self.settings.max_clock_skew_s, self.fuser.watermark)
        self.hot_issues.reload(self.settings.max_clock_skew_s)

    def process(self, records: list[InRecord]) -> Batch:
        batch = Batch()
        now = datetime.now(UTC)
        for rec in records:
            try:
                if rec.topic == self.topics.feedback:
                    self._out += self._feedback(rec.value)
                    continue
                obs = self._parse(rec.value, now)
            except RejectedRecord as err:
                batch.rejected.append((rec, err))
                continue
            result = self.fuser.apply(obs)
            self._count(result)
            if result.changed and result.incident is not None:
                self._out += self._record(result.incident, obs)
            if result.changed and obs.source == "ticket" and obs.category != UNCLASSIFIED:
                self._hot_out += self.hotspots.add(obs)
            if result.changed:
                self.hot_issues.add(obs)
        self._issue_out += self.hot_issues.flush()
        return batch

    def tick(self) -> Batch:
        batch = Batch()
        for inc in self.fuser.expire():
            fresh = self.store.load_incident(inc.id)
            if fresh is not None and (
                not fresh.is_open
                or len(fresh.evidence_ids) > len(inc.evidence_ids)
                or fresh.updated_at > inc.updated_at
            ):
                # Someone else changed it since this copy was loaded: another worker that holds
                # its cell now kept it alive, or a dispatcher already resolved it. Theirs wins.
                self.fuser.adopt(fresh)
                continue
            self.stats["incidents_resolved"] += 1
            self.stats["incidents_resolved.timeout"] += 1
            self._out += self._record(inc, None)
        if self.fuser.watermark is not None:
            self._hot_out += self.hotspots.tick(self.fuser.watermark)
        self._issue_out += self.hot_issues.flush()
        return batch

    def sink(self) -> None:
        self.stats["fuser_seen"] = self.fuser.seen_count  # a gauge: the replay guard's size
        if self._pending or self._out:
            self.store.write_incidents(self._pending.values(), (), self.outbox, self._out)
        self._pending.clear()
        self._out.clear()
        self.hotspots.sink(self.outbox, self._hot_out)
        self._hot_out.clear()
        self.hot_issues.sink(self.outbox, self._issue_out)
        self._issue_out.clear()

    def _count(self, result: FusionResult) -> None:
        if not result.changed:
            self.stats["duplicate_observations" if result.note == "duplicate" else result.note] += 1
        elif result.created:
            self.stats["incidents_opened"] += 1
        elif result.note == "reopened":
            self.stats["incidents_reopened"] += 1
        elif result.note == "resolved":
            self.stats["incidents_resolved"] += 1
            self.stats["incidents_resolved.cameras"] += 1
        elif result.note == "paraphrase":  # a ticket with no category joined by its words
            self.stats["paraphrase_joins"] += 1
        elif result.note == "late":  # evidence of a resolved incident's lifetime, come late
            self.stats["incidents_late_evidence"] += 1
        else:
            self.stats["incidents_updated"] += 1

    def _feedback(self, raw: bytes) -> list[Output]:
        """A dispatcher's decision. `resolve` closes the incident (evidence that comes back
        later reopens it); accept and reassign are recorded by the web side, not here."""
        try:
            fb = Feedback.model_validate_json(raw)
        except ValidationError as e:
            raise RejectedRecord("invalid_feedback", str(e.errors()[0]["msg"])) from e
        self.stats[f"feedback.{fb.action}"] += 1
        if fb.action != "resolve":
            return []
        if fb.incident_id not in self.fuser.incidents:
            stored = self.store.load_incident(fb.incident_id)
            if stored is None:
                raise RejectedRecord("unknown_incident", fb.incident_id)
            self.fuser.adopt(stored)
        inc = self.fuser.incidents[fb.incident_id]
        if inc.is_open and resolve_is_stale(inc.updated_at, fb.at):
            self.stats["feedback.stale_resolve"] += 1  # new evidence since: it stays open
            return []
        done = self.fuser.resolve(fb.incident_id, fb.at, by="dispatcher")
        if done is None:
            self.stats["feedback.already_resolved"] += 1
            return []
        self.stats["incidents_resolved"] += 1
        self.stats["incidents_resolved.dispatcher"] += 1
        return self._record(done, None)

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
        ahead = timedelta(seconds=self.settings.max_future_s)
        if not now - skew <= obs.observed_at <= now + ahead:
            raise RejectedRecord("timestamp_out_of_range", obs.observed_at.isoformat())
        if self.fuser.is_late(obs):
            raise RejectedRecord(
                "late_observation",
                f"{obs.observed_at.isoformat()} is older than the watermark "
                f"{self.fuser.watermark.isoformat() if self.fuser.watermark else ''} "
                f"by more than {self.settings.max_lateness_s:.0f} s",
            )
        return obs

    def _record(self, inc: Incident, obs: Observation | None) -> list[Output]:
        """Queue the incident for the store and hand it to the dispatch job, which summarises
        and routes it (rules first; the provisional routing here is the rules' answer)."""
        inc = replace(
            inc,
            routing=route(self.city, inc.category, inc.district),
            summary=template_summary(self.city, inc),
        )
        evidence = self._pending[inc.id].evidence if inc.id in self._pending else []
        if obs is not None:
            evidence.append(obs)
        self._pending[inc.id] = IncidentWrite(inc, evidence)
        version = incident_version(inc.id, len(inc.evidence_ids), inc.status, inc.reopened)
        return [
            Output(
                topic=self.topics.incidents,
                key=inc.id.encode(),
                value=inc.to_message(),
                headers=[("idempotency-key", version.encode())],
            )
        ]


SPEC = JobSpec(
    name="incidents",
    inputs=lambda t: [t.observations, t.feedback],
    max_poll_records=lambda s: 200,
    build=lambda settings, city, store, topics: IncidentStage(settings, city, topics, store),
)
