"""A ticket the job refuses reaches the DLQ without the personal data it carried."""

from __future__ import annotations

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.streams.testing import Incoming, run_stage
from citybrain.streams.topics import Topics
from pipelines.tickets import TicketStage


def test_refused_tickets_are_dead_lettered_redacted(settings: Settings, city: City) -> None:
    stage = TicketStage(settings, city, Topics("t"))
    broken = b'{"ticket_id": "T-1", "text": "call me on 13812345678, Name: John Smith"'
    huge = b'{"ticket_id": "T-2", "text": "' + b"x" * (200 * 1024) + b' 13812345678"}'
    run = run_stage(stage, [Incoming("t.tickets", v) for v in (broken, huge)])
    assert run.reasons() == ["invalid_json", "oversized_ticket"]
    bad, big = run.dead_letters
    assert b"13812345678" not in bad.value and b"John Smith" not in bad.value
    assert b"[PHONE]" in bad.value and b'"ticket_id": "T-1"' in bad.value  # still readable
    assert len(big.value) <= settings.tickets.max_ticket_bytes
    letter = dict(bad.headers)
    assert letter["dlq.redacted"] == b"True" and letter["dlq.source_offset"] == b"0"
