"""A dispatcher's hand on an incident, and how accept, reassign, reject and resolve move it.

Pure, so the rules a dispatcher meets are one function the store calls inside its
transaction (with the rows locked) and the tests call directly. The hand is the department
holding the incident and how far it has taken it: new → accepted → resolved; a reassignment or
a rejection hands it to another department as new. The error's message is what the dispatcher
is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

HAND_STATES = ("new", "accepted", "resolved")


class ActionError(ValueError):
    """An action that cannot apply to the incident as it stands (shown to the dispatcher)."""


@dataclass(frozen=True)
class Hand:
    """Who holds an incident and its state there (one of HAND_STATES)."""

    department: str
    state: str


def current_state(
    held_state: str | None, held_at: datetime | None, status: str, written_at: datetime
) -> str:
    """The hand's state as it stands: `held_state` is the dispatcher's last (None: nobody
    acted yet, new). A dispatcher's "resolved" stands until the problem comes back: evidence
    that reopened the incident after the dispatcher's hand makes it new again."""
    if held_state is None:
        return "new"
    reopened_since = status == "reopened" and held_at is not None and written_at > held_at
    return "new" if held_state == "resolved" and reopened_since else held_state


def next_hand(
    hand: Hand,
    action: str,
    *,
    status: str,
    triage_department: str,
    department: str | None = None,
    acting_for: str | None = None,
) -> Hand:
    """The hand after `action`, or ActionError. `status` is the incident's own (the pipeline's);
    `department` is where a reassignment goes; `acting_for` the acting dispatcher's department
    (None: one who sees every department), which must still hold the incident."""
    if acting_for is not None and hand.department != acting_for:
        raise ActionError("the incident has moved to another department meanwhile")
    if hand.state == "resolved" or status == "resolved":
        raise ActionError("the incident is already resolved")
    if action == "accept":
        return Hand(hand.department, "accepted")
    if action == "resolve":
        return Hand(hand.department, "resolved")
    if action == "reassign":
        if not department or department == hand.department:
            raise ActionError("reassign needs another department")
        return Hand(department, "new")
    if action == "reject":
        if hand.department == triage_department:
            raise ActionError("triage cannot reject an incident; reassign it instead")
        return Hand(triage_department, "new")
    raise ActionError(f"unknown action {action!r}")


def resolve_is_stale(last_change: datetime, resolved_at: datetime) -> bool:
    """A resolve taken before the incident's last evidence: the dispatcher closed what they
    saw then, not what came after (it waited in the web's outbox while Kafka was down)."""
    return resolved_at < last_change
