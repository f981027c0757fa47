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


# A rejected ticket (no received_at, so not a Ticket) whose name and phone are JSON escapes.
ESCAPED = (
    b'{"ticket_id": "T-2", "text": "\\u0031\\u0033\\u0038\\u0031\\u0032\\u0033\\u0034\\u0035'
    b"\\u0036\\u0037\\u0038 \\u6211\\u53eb\\u5f20\\u4f1f\\uff0c\\u5783\\u573e\\u6ee1\\u4e86"
    b'", "extra": {"plate": "\\u4eacA12345"}}'
)


def test_a_rejected_ticket_is_decoded_before_it_is_redacted() -> None:
    """Escapes spell the phone number, the name (我叫张伟) and the plate (京A12345): the copy
    is decoded JSON with every string redacted, so none of them survives in any spelling."""
    copy = redacted_ticket_bytes(ESCAPED)
    text = copy.decode()
    for secret in ("13812345678", "张伟", "京A12345", "A12345"):
        assert secret not in text, secret
    assert "\\u" not in text
    assert "[PHONE]" in text and "垃圾满了" in text  # the rest stays readable


def test_a_cut_record_has_its_escapes_decoded_before_it_is_redacted() -> None:
    cut = redacted_ticket_bytes(ESCAPED, limit=len(ESCAPED) - 5)  # no longer JSON
    assert "13812345678" not in cut.decode() and "[PHONE]" in cut.decode()
    emoji = redacted_ticket_bytes(b'{"text": "\\ud83d\\ude00 \\ud800 x', limit=100)
    assert emoji.decode() == '{"text": "\U0001f600 \ufffd x'
