"""Copies of ticket records (the DLQ, archives) keep no personal data."""

from __future__ import annotations

from citybrain.core.messages import Ticket
from citybrain.core.ticket_path import redacted_ticket_bytes


def test_a_valid_ticket_keeps_its_shape_and_loses_its_personal_data() -> None:
    raw = (
        b'{"ticket_id": "T-9", "received_at": "2026-11-22T08:00:00Z", "phone": "13812345678",'
        b' "text": "\\u0031\\u0033\\u0038\\u0031\\u0032\\u0033\\u0034\\u0035\\u0036\\u0037\\u0038'
        b' called: bin overflowing", "address": "Heping Road, Name: John Smith"}'
    )
    copy = Ticket.model_validate_json(redacted_ticket_bytes(raw))
    assert copy.ticket_id == "T-9" and "bin overflowing" in copy.text
    assert "13812345678" not in copy.text and "[PHONE]" in copy.text  # escapes are no hiding place
    assert copy.address is not None and "John Smith" not in copy.address
    assert b"phone" not in redacted_ticket_bytes(raw)  # fields the pipeline never reads: gone


def test_a_broken_or_huge_record_is_redacted_as_text() -> None:
    broken = b'{"ticket_id": "T-1", "text": "call 13812345678'
    assert redacted_ticket_bytes(broken) == b'{"ticket_id": "T-1", "text": "call [PHONE]'
    huge = b"x" * 10_000 + b" 13812345678"
    assert redacted_ticket_bytes(huge, limit=100) == b"x" * 100
