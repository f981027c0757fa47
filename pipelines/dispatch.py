"""dispatch: incident → route (rules, model where the list cannot decide within its
deadline, fallback) → labelled template summary + a queued model summary → store +
`<prefix>.dispatch` keyed by department + webhooks.

Fusion stays fast because the slow model step lives here, in its own consumer group; and
routing never waits for a summary: the summary worker (pipelines/summaries.py) works the
store's durable queue at the server's parallelism and sends a follow-up dispatch with the
model's summary when it lands.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from citybrain.config import Settings
from citybrain.core.advised import advised_case, combine, outbound
from citybrain.core.ambiguity import routing_case
from citybrain.core.city import City
from citybrain.core.facts import EvidenceItem, key_facts
from citybrain.core.ids import dispatch_id
from citybrain.core.incident import Incident
from citybrain.core.messages import (
    DeadLetter,
    Dispatch,
    GeneratedLabel,
    RouterAdvice,
    RoutingDecision,
)
from citybrain.delivery.webhooks import WebhookDispatcher, insecure_webhooks, webhook_urls
from citybrain.errors import ConfigError, RejectedRecord
from citybrain.llm.client import LLMClient
from citybrain.llm.step import Item, ModelStep
from citybrain.store import Store
from citybrain.store.model_step import Decision, Delivery, DispatchStep
from citybrain.store.models import DeliveryRow, SummaryRow
from citybrain.store.outbox import Outbox as StoreOutbox
from citybrain.streams.jobs import JobSpec
from citybrain.streams.records import InRecord, Output
from citybrain.streams.stage import Batch, Stage
from citybrain.streams.topics import Topics
from pipelines.summaries import SummaryWorker

log = logging.getLogger(__name__)


class DispatchStage(Stage):
    name = "dispatch"

    def __init__(
        self,
        settings: Settings,
        city: City,
        topics: Topics,
        store: Store,
        client: LLMClient | None = None,
        deliver: bool = True,
        parallel: int = 1,
    ) -> None:
        self.settings = settings
        self.city = city
        self.topics = topics
        self.store = store
        self.stats: Counter[str] = Counter()
        self.step = ModelStep(
            city, settings.llm, client, house_numbers=settings.tickets.redact_house_numbers
        )
        self.urls = webhook_urls(city, settings.dispatch)
        refused = insecure_webhooks(self.urls, settings.dispatch) if deliver else []
        if refused:
            raise ConfigError(refused)
        self._pending = DispatchStep()
        self._out: list[Output] = []  # dispatch messages: into the outbox with the step's write
        self.outbox: StoreOutbox = store.outbox(self.name, settings.workers.outbox_lease_s)
        # incident id -> (category, district, routing) of the last decision, to ask the model once
        self._decided: dict[str, tuple[str, str | None, RoutingDecision]] = {}
        self._sent: dict[str, set[str]] = {}  # incident id -> ids of the dispatches made
        self._holders: dict[str, str] = {}  # incident id -> department a dispatcher handed it to
        self.owned: list[Any] = []  # processes this stage started and stops (embedded model)
        self.summaries: SummaryWorker | None = None
        if self.step.client is not None and settings.llm.summaries:
            self.summaries = SummaryWorker(
                settings, city, topics, store, self.step, parallel, self.urls, self.stats,
                self.outbox,
            )  # fmt: skip
        self.webhooks: WebhookDispatcher | None = None
        if deliver and self.urls:
            self.webhooks = WebhookDispatcher(
                store, self.urls, settings.dispatch, self._dead_letter, self.outbox, self.stats
            ).start()
        self.on_assigned()

    def on_assigned(self) -> None:
        """The store knows every dispatch made so far: never dispatch one twice. What was not
        written yet (a database outage) is dropped here and comes again from Kafka."""
        self._pending = DispatchStep()
        self._out = []
        self._sent = self.store.sent_dispatches()

    def process(self, records: list[InRecord]) -> Batch:
        batch = Batch()
        latest: dict[str, Incident] = {}  # several updates of one incident: the newest counts
        for rec in records:
            try:
                msg = self._parse(rec.value)
            except RejectedRecord as err:
                batch.rejected.append((rec, err))
                continue
            latest[msg.id] = msg
        self._holders = self.store.holders(list(latest))
        items = [self._item(m) for m in latest.values()]
        self.step.run_queued(items)
        for it in items:
            self._out += self._decide(it)
            if not it.incident.is_open:
                self._forget(it.incident.id)
        return batch

    def start_summaries(self) -> None:
        """Start the summary worker thread (the job does; tests may call run_once)."""
        if self.summaries is not None:
            self.summaries.start()

    def _forget(self, incident_id: str) -> None:
        """A resolved incident leaves the per-incident memory, which would otherwise grow for
        as long as the job runs. A message about it that comes again (a replayed batch) sends
        its dispatch again under the same id and idempotency key: receivers and the store
        keep one. If it comes back to life, its new dispatch has a new id."""
        self._decided.pop(incident_id, None)
        self._sent.pop(incident_id, None)

    def tick(self) -> Batch:
        """Nothing to do between batches: the summary worker's follow-up dispatches and the
        webhooks' dead letters are in the outbox, which the worker sends after every tick."""
        return Batch()

    def sink(self) -> None:
        if self._pending or self._out:
            self.store.write_dispatch_step(self._pending, self.outbox, self._out)
        self._pending = DispatchStep()
        self._out = []

    def close(self) -> None:
        if self.summaries is not None:
            self.summaries.stop()
        if self.webhooks is not None:
            self.webhooks.stop()
        if self.step.client is not None:
            self.step.client.close()
        for server in self.owned:
            server.stop()

    def _parse(self, raw: bytes) -> Incident:
        try:
            msg = Incident.from_message(raw)
        except ValidationError as e:
            raise RejectedRecord("invalid_incident", str(e.errors()[0]["msg"])) from e
        if msg.district is not None and msg.district not in self.city.district_by_id:
            raise RejectedRecord("unknown_district", msg.district)
        return msg

    def _item(self, inc: Incident) -> Item:
        found = self.store.incident(inc.id)
        evidence = [EvidenceItem(e.source, e.source_id, e.text) for e in found[1]] if found else []
        texts = [e.text for e in evidence if e.text is not None]
        llm = self.settings.llm
        advice = (
            [RouterAdvice.model_validate(e.advice) for e in found[1] if e.advice] if found else []
        )
        if advice:  # the router was heard in the ticket job: its order of authority applies
            case = advised_case(
                self.city, inc.category, inc.district, combine(advice), inc.location, llm.border_m
            )
        else:
            case = routing_case(
                self.city, inc.category, inc.district, inc.location, llm.border_m,
                llm.route_unclassified,
            )  # fmt: skip
        prev = self._decided.get(inc.id)
        if case.ambiguous and prev is not None and prev[:2] == (inc.category, inc.district):
            case = type(case)(rule=prev[2])  # the model already decided this one: keep it
        stored = self.store.summary(inc.id)  # the summary worker writes it: read, not kept
        previous = _label_of(stored) if stored is not None else None
        return Item(
            incident=inc,
            facts=key_facts(self.city, inc, evidence),
            texts=texts,
            case=case,
            # a standing model summary that still fits the evidence is kept, not asked again
            want_model_summary=previous is None or previous[1].generated_by != "model",
            refresh_stale=True,
            previous=previous,
        )

    def _decide(self, it: Item, count: bool = True) -> list[Output]:
        inc, routing = it.incident, it.routing
        assert routing is not None and it.label is not None
        answered = any(
            c.purpose == "routing" and c.outcome in ("ok", "invalid", "rejected_by_guard")
            for c in it.calls
        )
        if routing.decided_by == "model" or answered:  # ask the model once per incident
            self._decided[inc.id] = (inc.category, inc.district, routing)
        if it.queued:
            self._pending.queued.append(inc.id)
        if count:
            self.stats[f"decided_by.{routing.decided_by}"] += 1
        self.stats[f"summary.{it.label.generated_by}"] += 1
        for call in it.calls:
            self.stats[f"model_calls.{call.purpose}.{call.outcome}"] += 1
        self._pending.calls += it.calls
        self._pending.decisions.append(Decision(inc.id, routing, it.summary, it.label, it.facts))
        # One dispatch per department an incident is routed to, and again when it comes back
        # after being resolved (a new id, so receivers are told).
        holder = self._holders.get(inc.id)
        if holder is not None:
            # A dispatcher moved it: the hand wins over the rules. This life of the incident
            # was dispatched already (the department that moved it on had it, and the move
            # sent its own dispatch to the holder) unless it came back since: then the holder
            # is told, not the department the rules name.
            this_life = {dispatch_id(inc.id, d.id, inc.reopened) for d in self.city.departments}
            if this_life & self._sent.get(inc.id, set()):
                return []
        if holder is not None and holder != routing.department:
            routing = routing.model_copy(
                update={
                    "department": holder,
                    "decided_by": "dispatcher",
                    "reason": f"held by {holder} after a dispatcher's move",
                }
            )
        did = dispatch_id(inc.id, routing.department, inc.reopened)
        if did in self._sent.get(inc.id, set()):
            return []
        self._sent.setdefault(inc.id, set()).add(did)
        dispatch = Dispatch(
            id=did,
            incident_id=inc.id,
            department=routing.department,
            category=inc.category,
            district=inc.district,
            severity=inc.severity,
            created_at=inc.updated_at,
            routing=outbound(routing),  # the similar past tickets stay in the store
            summary=it.summary,
            summary_label=it.label,
            facts=it.facts,
        )
        payload = dispatch.model_dump_json()
        self._pending.dispatches.append(dispatch)
        url = self.urls.get(routing.department)
        if url:
            self._pending.deliveries.append(Delivery(dispatch.id, routing.department, url, payload))
        self.stats[f"dispatched.{routing.department}"] += 1
        return [
            Output(
                topic=self.topics.dispatch,
                key=routing.department.encode(),
                value=payload.encode(),
                headers=[("idempotency-key", dispatch.id.encode())],
            )
        ]

    def _dead_letter(self, row: DeliveryRow, error: str) -> Output:
        """The DLQ record of a delivery out of attempts (a sender thread writes it into the
        outbox as it marks the delivery dead)."""
        header = DeadLetter(
            reason="webhook_failed",
            detail=f"{row.department}: {error}"[:500],
            stage=self.name,
            source_topic=self.topics.dispatch,
            source_partition=-1,
            source_offset=-1,
            at=datetime.now(UTC),
        )
        return Output(
            topic=self.topics.dlq,
            key=row.department.encode(),
            value=row.payload.encode(),
            # its own key: the dispatch message in the same outbox has the delivery's id
            headers=[*header.to_headers(), ("idempotency-key", f"{row.id}:dead".encode())],
        )


def _label_of(row: SummaryRow) -> tuple[str, GeneratedLabel]:
    return row.text, GeneratedLabel(
        generated_by=row.generated_by,
        model=row.model,
        prompt_version=row.prompt_version,
        language=row.language,
        verified=row.verified,
        note=row.note,
    )


def build_dispatch_stage(
    settings: Settings, city: City, topics: Topics, store: Store
) -> DispatchStage:
    """The stage with its model client; starts the embedded model server when configured and
    nothing answers at its port yet (the demo starts one for all workers)."""
    from citybrain.llm.session import server_parallelism, start_model

    if not settings.llm.enabled:
        return DispatchStage(settings, city, topics, store, None)
    endpoint, server = start_model(settings.llm)
    parallel = server_parallelism(settings.llm, endpoint)
    llm = settings.llm.model_copy(update={"max_concurrency": parallel})
    log.info("model server %s runs %d call(s) at once", endpoint, parallel)
    stage = DispatchStage(
        settings, city, topics, store, LLMClient(llm, endpoint), parallel=parallel
    )
    if server is not None:
        stage.owned.append(server)
    stage.start_summaries()
    return stage


SPEC = JobSpec(
    name="dispatch",
    inputs=lambda t: [t.incidents],
    max_poll_records=lambda s: s.dispatch.batch_size,  # model calls are slow: poll often
    build=lambda settings, city, store, topics: build_dispatch_stage(settings, city, topics, store),
)
