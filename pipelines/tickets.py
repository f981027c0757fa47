"""tickets: validate → redact personal data → classify (keyword rules; the router trained on
the city's history when `tickets.router` is set) → geolocate → observation."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from pydantic import ValidationError

from citybrain.config import Settings
from citybrain.core.cells import cell_partition_key
from citybrain.core.city import City
from citybrain.core.messages import Observation, RouterAdvice, Ticket
from citybrain.core.redaction import redact
from citybrain.core.ticket_path import ReadTicket, TicketPath, redacted_ticket_bytes
from citybrain.errors import RejectedRecord
from citybrain.streams.jobs import JobSpec
from citybrain.streams.records import InRecord, Output
from citybrain.streams.stage import Batch, Stage
from citybrain.streams.topics import Topics
from citybrain.text.router import Router


class TicketStage(Stage):
    name = "tickets"

    def __init__(
        self, settings: Settings, city: City, topics: Topics, router: Router | None = None
    ) -> None:
        self.settings = settings.tickets
        self.topics = topics
        self.city = city
        self.path = TicketPath(
            city, settings.incidents.partition_resolution, settings.tickets.redact_house_numbers
        )
        self.router = router if router is not None else load_configured_router(settings, city)
        self.stats: Counter[str] = Counter()

    def process(self, records: list[InRecord]) -> Batch:
        batch = Batch()
        parsed: list[ReadTicket] = []
        for rec in records:
            try:
                parsed.append(self._read(rec.value))
            except RejectedRecord as err:
                batch.rejected.append((self._redacted(rec), err))
        for read, adv in zip(parsed, self._advise(parsed), strict=True):
            obs = self._observation(read, adv)
            self.stats["tickets"] += 1
            self.stats[f"precision.{obs.precision}"] += 1
            batch.outputs.append(
                Output(
                    topic=self.topics.observations,
                    key=self._key(obs).encode(),
                    value=obs.model_dump_json().encode(),
                )
            )
        return batch

    def _key(self, obs: Observation) -> str:
        """Keyed by geo cell: one place's evidence reaches one incident worker."""
        assert obs.cell is not None  # TicketPath.observe sets it
        return cell_partition_key(obs.cell)

    def observe(self, raw: bytes) -> Observation:
        read = self._read(raw)
        return self._observation(read, self._advise([read])[0])

    def _advise(self, reads: list[ReadTicket]) -> list[RouterAdvice | None]:
        """One router call per batch: vectorising many texts at once is what makes it fast.
        The router reads what it was trained on: the address as typed, then the text."""
        if self.router is None or not reads:
            return [None] * len(reads)
        return list(self.router.advise([r.place for r in reads], [r.loc.district for r in reads]))

    def dead_letter_copy(self, rec: InRecord, detail: str) -> tuple[InRecord, str]:
        """A ticket the stage raised on goes to the DLQ redacted like a rejected one; the
        exception's text may quote the ticket, so it is redacted too."""
        return self._redacted(rec), redact(detail, self.settings.redact_house_numbers).text

    def _redacted(self, rec: InRecord) -> InRecord:
        """The rejected record as its DLQ copy keeps it: personal data replaced (the DLQ is
        read by engineers, and kept longer than a ticket needs to be), cut to the largest
        ticket accepted. The original stays in the source topic for its retention."""
        t = self.settings
        value = redacted_ticket_bytes(rec.value, t.redact_house_numbers, t.max_ticket_bytes)
        return replace(rec, value=value, redacted=True)

    def _read(self, raw: bytes) -> ReadTicket:
        if len(raw) > self.settings.max_ticket_bytes:
            raise RejectedRecord("oversized_ticket", f"{len(raw)} bytes")
        read = self.path.read(parse_ticket(raw))
        self.stats["pii_redacted"] += read.red.total
        return read

    def _observation(self, read: ReadTicket, advice: RouterAdvice | None) -> Observation:
        obs = self.path.observe(read, advice)
        if obs.category != read.keywords.category:
            self.stats["category.router"] += 1
        return obs


def parse_ticket(raw: bytes) -> Ticket:
    """The ticket in a record's value, or RejectedRecord naming the first problem."""
    try:
        return Ticket.model_validate_json(raw)
    except ValidationError as e:
        first = e.errors()[0]
        reason = "invalid_json" if first["type"] == "json_invalid" else "invalid_ticket"
        where = ".".join(str(p) for p in first["loc"])
        raise RejectedRecord(reason, f"{where}: {first['msg']}" if where else first["msg"]) from e


def load_configured_router(settings: Settings, city: City) -> Router | None:
    """The router of `tickets.router`, checked against the city (raises ArtefactError)."""
    t = settings.tickets
    if t.router is None:
        return None
    from citybrain.text.artefact import load_router

    router, _ = load_router(t.router, city, t.router_min_confidence, t.router_auto_threshold)
    return router


SPEC = JobSpec(
    name="tickets",
    inputs=lambda t: [t.tickets],
    max_poll_records=lambda s: 200,
    build=lambda settings, city, _store, topics: TicketStage(settings, city, topics),
)
