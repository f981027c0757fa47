"""The summary worker: works the store's summary queue at the model server's parallelism.

The dispatch job routes and dispatches at once with the labelled template and queues the
summary; this worker (a thread beside it) claims as many queued incidents as the server runs
at once, no more, so no call waits in the server's own queue and times out there. Each
result is written in one transaction with its audit rows and, when it is a model summary, a
follow-up delivery of each of the incident's dispatches carrying it (a new idempotency key
per summary text, so a receiver applies each once). Calls that time out or fail back off in
the queue; an answer the guards reject twice (the reports, then the facts alone) is tried again
`llm.guard_retries` times, sampled with a seed per try (temperature 0 would repeat it), and then
the template stays, labelled with the reason, which the audit log keeps.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter

from citybrain.config import Settings
from citybrain.core.ambiguity import RoutingCase
from citybrain.core.city import City
from citybrain.core.facts import EvidenceItem, key_facts
from citybrain.core.ids import summary_followup_id
from citybrain.llm.step import Item, ModelStep
from citybrain.store import Store
from citybrain.store.mappers import dispatch_from_row, incident_from_row, routing_from_row
from citybrain.store.model_step import Delivery
from citybrain.store.outbox import Outbox
from citybrain.store.summary_queue import Claim, SummaryQueue
from citybrain.streams.crash import crash_point
from citybrain.streams.records import Output
from citybrain.streams.topics import Topics

log = logging.getLogger(__name__)
STOP_WAIT_S = 5.0  # a round between model calls ends in well under this
RETRIED = ("timeout", "error")  # the server's fault: ask again later


class SummaryWorker:
    def __init__(
        self,
        settings: Settings,
        city: City,
        topics: Topics,
        store: Store,
        step: ModelStep,
        parallel: int,
        urls: dict[str, str],
        stats: Counter[str],
        outbox: Outbox,
    ) -> None:
        self.settings = settings
        self.city = city
        self.topics = topics
        self.store = store
        self.step = step
        self.parallel = parallel
        self.urls = urls
        self.stats = stats
        self.queue = SummaryQueue(store)
        self.outbox = outbox  # follow-ups for Kafka, written with the summary
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> SummaryWorker:
        self._thread = threading.Thread(target=self._loop, name="summaries", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """A model call in flight is not waited for: a summary takes longer than a job may
        take to stop (its supervisor kills it after 20 s), and the claim's lease hands the
        incident back to the queue for the next start."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_WAIT_S)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # the store or the server broke: the queue keeps the work
                log.exception("summary worker round failed; retrying")
                worked = 0
            if not worked:
                self._stop.wait(self.settings.llm.queue_poll_s)

    def run_once(self) -> int:
        """Claim up to `parallel` due summaries, ask the model, write; returns how many."""
        llm = self.settings.llm
        client = self.step.client
        if client is not None and client.breaker.state == "open":
            return 0  # the server failed repeatedly: wait for the circuit, spend no attempts
        claims = self.queue.claim(self.parallel, llm.queue_lease_s)
        if not claims:
            return 0
        items: list[tuple[Claim, Item]] = []
        for c in claims:
            it = self._item(c)
            if it is None:  # the incident is gone from the store: nothing to summarise
                self.queue.done(c)
            else:
                items.append((c, it))
        for attempt in sorted({c.attempts for c, _ in items}):
            self.step.ask_summaries([it for c, it in items if c.attempts == attempt], None, attempt)
        crash_point("dispatch.summary_after_model")  # fault injection: answered, not written
        for c, it in items:
            self._finish(c, it)
        return len(claims)

    def _item(self, c: Claim) -> Item | None:
        found = self.store.incident(c.incident_id)
        if found is None:
            return None
        row, evidence = found
        inc = incident_from_row(row, tuple(e.observation_id for e in evidence))
        ev = [EvidenceItem(e.source, e.source_id, e.text) for e in evidence]
        return Item(
            incident=inc,
            facts=key_facts(self.city, inc, ev),
            texts=[e.text for e in ev if e.text is not None],
            case=RoutingCase(rule=routing_from_row(row)),
        )

    def _finish(self, c: Claim, it: Item) -> None:
        assert it.label is not None
        llm = self.settings.llm
        outcome = it.summary_outcome
        for call in it.calls:
            self.stats[f"model_calls.{call.purpose}.{call.outcome}"] += 1
        if outcome in RETRIED:
            status = self.queue.fail(
                c, it.label.note, llm.queue_attempts, llm.queue_backoff_s, llm.queue_backoff_max_s
            )
            label = it.label.model_copy(
                update={
                    "note": (
                        f"summary pending: retry {c.attempts + 1} ({it.label.note})"
                        if status == "pending"
                        else f"model summary given up after {c.attempts + 1} tries "
                        f"({it.label.note})"
                    )[:300]
                }
            )
            self.store.write_summary(c.incident_id, it.summary, label, it.facts, it.calls, [])
            self.stats[f"summary_queue.{status}"] += 1
            return
        rejected = outcome in ("rejected_by_guard", "invalid") and it.label.generated_by != "model"
        if rejected and c.attempts < llm.guard_retries:  # another, sampled, try later
            self.queue.fail(
                c, it.label.note, llm.queue_attempts, llm.queue_backoff_s, llm.queue_backoff_max_s
            )
            label = it.label.model_copy(
                update={"note": f"summary pending: another try ({it.label.note})"[:300]}
            )
            self.store.write_summary(c.incident_id, it.summary, label, it.facts, it.calls, [])
            self.stats["summary_queue.guard_retry"] += 1
            return
        deliveries, messages = (
            self._follow_ups(it) if it.label.generated_by == "model" else ([], [])
        )
        self.store.write_summary(
            c.incident_id, it.summary, it.label, it.facts, it.calls, deliveries,
            self.outbox, messages,
        )  # fmt: skip
        crash_point("dispatch.summary_after_write")  # fault injection: written, not marked done
        latest = self.queue.done(c)
        self.stats[f"summary.queued.{it.label.generated_by}"] += 1
        if not latest:
            self.stats["summary_queue.superseded"] += 1

    def _follow_ups(self, it: Item) -> tuple[list[Delivery], list[Output]]:
        """The holder's dispatch again, now with the model summary: on the dispatch topic
        (through the outbox, so a crash cannot lose them) and as webhook deliveries, keyed by
        dispatch and summary text (idempotent)."""
        assert it.label is not None
        out: list[Delivery] = []
        messages: list[Output] = []
        digest = hashlib.sha256(it.summary.encode()).hexdigest()[:16]
        # the holder's newest dispatch only: a department the incident was moved away from
        # no longer hears of it
        holder = self.store.holder_dispatch(it.incident.id)
        for row in [holder] if holder is not None else []:
            d = dispatch_from_row(row).model_copy(
                update={"summary": it.summary, "summary_label": it.label, "facts": it.facts}
            )
            key = summary_followup_id(d.id, digest)
            payload = d.model_dump_json()
            messages.append(
                Output(
                    topic=self.topics.dispatch,
                    key=d.department.encode(),
                    value=payload.encode(),
                    headers=[("idempotency-key", key.encode()), ("follow-up", b"summary")],
                )
            )
            url = self.urls.get(d.department)
            if url:
                out.append(Delivery(key, d.department, url, payload))
            self.stats["summary.follow_ups"] += 1
        return out, messages
