"""The ticket parser on arbitrary bytes and on JSON of the wrong shape: an observation or a
RejectedRecord (a DLQ reason), never another exception."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.errors import RejectedRecord
from citybrain.streams.topics import Topics
from pipelines.tickets import TicketStage

_JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
_TICKETISH = st.fixed_dictionaries(
    {"ticket_id": _JSON, "received_at": st.one_of(_JSON, st.just("2026-05-01T08:00:00+00:00")),
     "text": st.one_of(_JSON, st.text(max_size=200))},
    optional={"location": _JSON, "address": _JSON, "channel": _JSON, "language": _JSON},
)  # fmt: skip


def test_ticket_parser_rejects_or_reads(settings: Settings, city: City) -> None:
    stage = TicketStage(settings, city, Topics("fuzz"))

    @given(st.one_of(st.binary(max_size=300), _TICKETISH.map(lambda d: json.dumps(d).encode())))
    def check(raw: bytes) -> None:
        try:
            obs = stage.observe(raw)
        except RejectedRecord as e:
            assert e.reason in {"oversized_ticket", "invalid_json", "invalid_ticket"}, e.reason
            return
        assert obs.source == "ticket"

    check()
