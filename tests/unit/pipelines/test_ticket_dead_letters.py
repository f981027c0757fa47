"""A ticket the job refuses reaches the DLQ without the personal data it carried."""

from __future__ import annotations

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.streams.records import InRecord, dead_letter
from citybrain.streams.topics import Topics
from pipelines.tickets import TicketStage


def test_refused_tickets_are_dead_lettered_redacted(settings: Settings, city: City) -> None:
    stage = TicketStage(settings, city, Topics("t"))
    broken = b'{"ticket_id": "T-1", "text": "call me on 13812345678, Name: John Smith"'
    huge = b'{"ticket_id": "T-2", "text": "' + b"x" * (200 * 1024) + b' 13812345678"}'
    batch = stage.process(
        [InRecord("t.tickets", 0, i, None, v, {}) for i, v in enumerate((broken, huge))]
    )
    (bad, err), (big, too_big) = batch.rejected
    assert err.reason == "invalid_json" and too_big.reason == "oversized_ticket"
    assert b"13812345678" not in bad.value and b"John Smith" not in bad.value
    assert b"[PHONE]" in bad.value and b'"ticket_id": "T-1"' in bad.value  # still readable
    assert len(big.value) <= settings.tickets.max_ticket_bytes
    letter = dict(dead_letter(bad, err, stage.name, "t.dlq", 1024 * 1024).headers)
    assert letter["dlq.redacted"] == b"True" and letter["dlq.source_offset"] == b"0"
