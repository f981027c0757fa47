"""What the ticket job does to one ticket, as pure functions: redact, classify by keywords,
locate, and (given the router's advice, which is batched outside) the observation.

`eval routing` runs exactly these, so an evaluation measures the path the pipeline runs."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from citybrain.core.advised import category_of
from citybrain.core.cells import cell_of
from citybrain.core.city import City
from citybrain.core.geocode import Geocoder, Located
from citybrain.core.ids import ticket_observation_id
from citybrain.core.keywords import Classification, KeywordClassifier
from citybrain.core.messages import Observation, RouterAdvice, Ticket
from citybrain.core.redaction import Redaction, redact


@dataclass(frozen=True)
class ReadTicket:
    """A validated ticket, redacted, classified by keywords and located."""

    ticket: Ticket
    red: Redaction
    place: str  # the address as typed, then the redacted text: what the router reads
    loc: Located
    keywords: Classification


class TicketPath:
    def __init__(
        self, city: City, cell_resolution: int, redact_house_numbers: bool = False
    ) -> None:
        self.city = city
        self.cell_resolution = cell_resolution
        self.classifier = KeywordClassifier(city)
        self.geocoder = Geocoder(city)
        self.redact_house_numbers = redact_house_numbers

    def read(self, ticket: Ticket) -> ReadTicket:
        red = redact(ticket.text, house_numbers=self.redact_house_numbers)
        place = " ".join(p for p in (ticket.address, red.text) if p)
        loc = self.geocoder.locate(place, ticket.location)
        return ReadTicket(ticket, red, place, loc, self.classifier.classify(red.text))

    def observe(self, read: ReadTicket, advice: RouterAdvice | None) -> Observation:
        """The observation; the router's advice, when there is one, may override the keyword
        category (core/advised.py says when)."""
        ticket, loc, kw = read.ticket, read.loc, read.keywords
        category, confidence = category_of(kw.category, kw.confidence, advice)
        return Observation(
            id=ticket_observation_id(ticket.channel, ticket.ticket_id),
            source="ticket",
            source_id=ticket.ticket_id,
            category=category,
            confidence=confidence,
            observed_at=ticket.received_at,
            location=loc.point,
            district=loc.district,
            precision=loc.precision,
            text=read.red.text,
            language=ticket.language,
            advice=advice,
            cell=cell_of(self.city, loc.point, loc.district, self.cell_resolution),
        )


_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)
_ESCAPE = re.compile(r"\\u([0-9a-f]{4})", re.IGNORECASE)


def _unescaped(text: str) -> str:
    """JSON's \\uXXXX escapes as the characters they stand for, so that a name or a phone
    number written as escapes (what `ensure_ascii` JSON writers send) is seen by the
    redaction; used where the text is not a whole JSON document (cut short, or broken)."""

    def pair(m: re.Match[str]) -> str:
        hi, lo = int(m.group(1), 16), int(m.group(2), 16)
        return chr(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))

    def one(m: re.Match[str]) -> str:
        c = int(m.group(1), 16)
        return "\ufffd" if 0xD800 <= c <= 0xDFFF else chr(c)

    return _ESCAPE.sub(one, _SURROGATE_PAIR.sub(pair, text))


def _redacted_json(value: Any, house_numbers: bool) -> Any:
    """Every string of a decoded JSON document redacted, object keys included."""
    if isinstance(value, str):
        return redact(value, house_numbers=house_numbers).text
    if isinstance(value, list):
        return [_redacted_json(v, house_numbers) for v in value]
    if isinstance(value, dict):
        return {
            redact(k, house_numbers=house_numbers).text: _redacted_json(v, house_numbers)
            for k, v in value.items()
        }
    return value


def redacted_ticket_bytes(
    raw: bytes, house_numbers: bool = False, limit: int | None = None
) -> bytes:
    """A ticket record's value as a copy may keep it (a DLQ, an archive): a valid ticket with
    its text and address redacted and fields the pipeline does not read dropped; other JSON
    decoded first (escapes and all) and every string in it redacted; anything else redacted as
    text with its escapes decoded (cut to `limit` bytes first, so a huge record costs little).
    Redacting raw JSON would miss what its escapes spell."""
    if limit is None or len(raw) <= limit:
        try:
            t = Ticket.model_validate_json(raw)
        except ValidationError:
            pass
        else:
            address = redact(t.address, house_numbers).text if t.address else None
            text = redact(t.text, house_numbers).text
            return (
                t.model_copy(update={"text": text, "address": address}).model_dump_json().encode()
            )
        try:
            doc = _redacted_json(json.loads(raw), house_numbers)
        except (ValueError, RecursionError):  # not JSON (or nested past the parser)
            pass
        else:
            return json.dumps(doc, ensure_ascii=False).encode()
    head = raw[:limit] if limit is not None else raw
    text = _unescaped(head.decode("utf-8", "replace"))
    return redact(text, house_numbers=house_numbers).text.encode()
