"""Deterministic ids: the same input always gives the same id, so re-processing is idempotent.

Every id the pipeline mints is built here, by name, so that two places that must agree on an
id (a dispatch the web creates and the one it later sends) cannot drift apart.
"""

import hashlib
from datetime import datetime


def stable_id(prefix: str, *parts: object) -> str:
    digest = hashlib.sha1("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:16]
    return f"{prefix}-{digest}"


def ticket_observation_id(channel: str, ticket_id: str) -> str:
    """By channel and the channel's own ticket id: two channels that number from 1 do not
    collide, and the same ticket sent again (a retry, a replay) keeps its id."""
    return stable_id("obs", "ticket", channel, ticket_id)


def camera_observation_id(
    camera_id: str, seq: int, category: str, zone: str | None, at: datetime
) -> str:
    """By camera, sequence number and the frame's capture time: a camera whose sequence
    restarts after a reboot makes new ids, and a replay of the same frames the same ones."""
    return stable_id("obs", "camera", camera_id, seq, at.isoformat(), category, zone)


def camera_event_id(camera_id: str, zone: str | None, category: str, opened_at: datetime) -> str:
    return stable_id("cev", camera_id, zone, category, opened_at.isoformat())


def incident_id(category: str, first_observation_id: str) -> str:
    """An incident is named by the observation that opened it."""
    return stable_id("inc", category, first_observation_id)


def incident_version(incident_id: str, evidence: int, status: str, reopened: int) -> str:
    """One key per state an incident passes through: what the outbox sends exactly once."""
    return f"{incident_id}:{evidence}:{status}:{reopened}"


def dispatch_id(incident_id: str, department: str, reopened: int) -> str:
    """The pipeline's dispatch to a department; again (a new id) each time it comes back."""
    generation = (reopened,) if reopened else ()
    return stable_id("dsp", incident_id, department, *generation)


def reassignment_dispatch_id(incident_id: str, department: str, action_id: str) -> str:
    """The dispatch a dispatcher's move (reassign, reject) creates to the new department."""
    return stable_id("dsp", incident_id, department, action_id)


FOLLOW_UP_PREFIX = "dsp-summary"


def summary_followup_id(dispatch_id: str, summary_digest: str) -> str:
    """The follow-up of a dispatch that carries a new summary text (its digest)."""
    return stable_id(FOLLOW_UP_PREFIX, dispatch_id, summary_digest)


def hotspot_id(category: str, area: str, opened_bucket: object) -> str:
    return stable_id("hot", category, area, opened_bucket)


def hot_issue_id(first_ticket_id: str) -> str:
    """A hot issue is named by its earliest ticket when it first appears; it keeps the name
    while later regroupings find most of the same tickets in it."""
    return stable_id("hti", first_ticket_id)
