"""tickets: validate → redact personal data → classify → geolocate → observation."""

from __future__ import annotations

from collections import Counter

from pydantic import ValidationError

from citybrain.config import Settings
from citybrain.core.cells import cell_of, cell_partition_key
from citybrain.core.city import City
from citybrain.core.geocode import Geocoder
from citybrain.core.ids import stable_id
from citybrain.core.messages import Observation, Ticket
from citybrain.core.redaction import redact
from citybrain.errors import RejectedRecord
from citybrain.streams.records import InRecord, Output
from citybrain.streams.topics import Topics
from citybrain.streams.worker import Batch
from citybrain.text.classify import KeywordClassifier


class TicketStage:
    name = "tickets"

    def __init__(self, settings: Settings, city: City, topics: Topics) -> None:
        self.settings = settings.tickets
        self.topics = topics
        self.city = city
        self.cell_resolution = settings.incidents.partition_resolution
        self.classifier = KeywordClassifier(city)
        self.geocoder = Geocoder(city)
        self.stats: Counter[str] = Counter()

    def process(self, records: list[InRecord]) -> Batch:
        batch = Batch()
        for rec in records:
            try:
                obs = self.observe(rec.value)
            except RejectedRecord as err:
                batch.rejected.append((rec, err))
                continue
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
        return cell_partition_key(
            cell_of(self.city, obs.location, obs.district, self.cell_resolution)
        )

    def observe(self, raw: bytes) -> Observation:
        if len(raw) > self.settings.max_ticket_bytes:
            raise RejectedRecord("oversized_ticket", f"{len(raw)} bytes")
        try:
            ticket = Ticket.model_validate_json(raw)
        except ValidationError as e:
            first = e.errors()[0]
            reason = "invalid_json" if first["type"] == "json_invalid" else "invalid_ticket"
            where = ".".join(str(p) for p in first["loc"])
            raise RejectedRecord(
                reason, f"{where}: {first['msg']}" if where else first["msg"]
            ) from e
        red = redact(ticket.text, house_numbers=self.settings.redact_house_numbers)
        self.stats["pii_redacted"] += red.total
        cls = self.classifier.classify(red.text)
        place = " ".join(p for p in (ticket.address, red.text) if p)
        loc = self.geocoder.locate(place, ticket.location)
        return Observation(
            id=stable_id("obs", "ticket", ticket.ticket_id),
            source="ticket",
            source_id=ticket.ticket_id,
            category=cls.category,
            confidence=cls.confidence,
            observed_at=ticket.received_at,
            location=loc.point,
            district=loc.district,
            precision=loc.precision,
            text=red.text,
            language=ticket.language,
        )

    def sink(self) -> None:
        """Nothing durable here: observations are produced before the commit."""

    def tick(self) -> Batch:
        return Batch()

    def on_assigned(self) -> None:
        """Stateless."""
