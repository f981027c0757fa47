"""The dispatcher's state machine: what each action does to the hand, and what it refuses
with the message the dispatcher reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from citybrain.core.dispatcher_actions import ActionError, Hand, current_state, next_hand

TRIAGE = "hotline_triage"
T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def _next(hand: Hand, action: str, **kw: str | None) -> Hand:
    status = kw.pop("status", None) or "open"
    return next_hand(hand, action, status=status, triage_department=TRIAGE, **kw)


@pytest.mark.parametrize(
    ("action", "department", "want"),
    [
        ("accept", None, Hand("water_drainage", "accepted")),
        ("resolve", None, Hand("water_drainage", "resolved")),
        ("reassign", "city_roads", Hand("city_roads", "new")),
        ("reject", None, Hand(TRIAGE, "new")),
    ],
)
def test_each_action_moves_the_hand(action: str, department: str | None, want: Hand) -> None:
    assert _next(Hand("water_drainage", "new"), action, department=department) == want


def test_an_accepted_incident_can_still_move_or_close() -> None:
    accepted = Hand("water_drainage", "accepted")
    assert _next(accepted, "reassign", department="city_roads") == Hand("city_roads", "new")
    assert _next(accepted, "resolve") == Hand("water_drainage", "resolved")


@pytest.mark.parametrize(
    ("hand", "action", "kw", "message"),
    [
        (Hand("water_drainage", "new"), "reassign", {}, "reassign needs another department"),
        (
            Hand("water_drainage", "new"),
            "reassign",
            {"department": "water_drainage"},
            "reassign needs another department",
        ),
        (Hand(TRIAGE, "new"), "reject", {}, "triage cannot reject an incident; reassign it"),
        (Hand("water_drainage", "resolved"), "accept", {}, "the incident is already resolved"),
        (
            Hand("water_drainage", "accepted"),
            "accept",
            {"status": "resolved"},
            "the incident is already resolved",
        ),
        (Hand("water_drainage", "new"), "escalate", {}, "unknown action 'escalate'"),
        (
            Hand("water_drainage", "new"),
            "accept",
            {"acting_for": "city_roads"},
            "the incident has moved to another department meanwhile",
        ),
    ],
)
def test_refusals_say_why(hand: Hand, action: str, kw: dict[str, str], message: str) -> None:
    with pytest.raises(ActionError, match=message):
        _next(hand, action, **kw)


def test_a_move_is_checked_before_the_state() -> None:
    """A former holder learns that it moved, not what became of it since."""
    with pytest.raises(ActionError, match="moved to another department"):
        _next(Hand("city_roads", "resolved"), "accept", acting_for="water_drainage")


def test_the_holder_may_act_for_its_own_department() -> None:
    hand = Hand("water_drainage", "new")
    assert _next(hand, "accept", acting_for="water_drainage").state == "accepted"


def test_a_resolution_stands_until_evidence_reopens_the_incident_after_it() -> None:
    assert current_state(None, None, "open", T0) == "new"
    assert current_state("accepted", T0, "updated", T0 + timedelta(hours=1)) == "accepted"
    assert current_state("resolved", T0, "updated", T0 + timedelta(hours=1)) == "resolved"
    assert current_state("resolved", T0, "reopened", T0 - timedelta(minutes=1)) == "resolved"
    assert current_state("resolved", T0, "reopened", T0 + timedelta(minutes=1)) == "new"
