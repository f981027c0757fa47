"""Score incidents against a simulator's ground truth: one incident per reported event, routed
to the right department, with unrelated reports triaged alone.

A report that names only a district cannot say which of two same-category events in that
district it is about; no system can attribute it. Such reports are checked for joining an
incident of the right category and district, and counted as `ambiguous`, not as errors.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from citybrain.core.city import UNCLASSIFIED


@dataclass(frozen=True)
class IncidentFacts:
    category: str
    district: str | None
    department: str


@dataclass
class TruthReport:
    reported_events: int = 0
    exact: int = 0
    ambiguous_reports: int = 0
    unrelated_reports: int = 0
    camera_events: int = 0
    camera_events_seen: int = 0
    camera_observations_unmatched: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "reported_events": self.reported_events,
            "one_correct_incident": self.exact,
            "ambiguous_district_only_reports": self.ambiguous_reports,
            "unrelated_reports": self.unrelated_reports,
            "camera_events": self.camera_events,
            "camera_events_seen": self.camera_events_seen,
            "camera_observations_unmatched": self.camera_observations_unmatched,
            "problems": self.problems,
        }


def score_against_truth(
    truth: dict[str, Any],
    incident_of_ticket: dict[str, str],
    incidents: dict[str, IncidentFacts],
    camera_observations: Sequence[tuple[str, str, datetime]] = (),
) -> TruthReport:
    """`truth` is the simulator's ground-truth JSON; the rest describe the system's output:
    which incident each ticket joined, the incidents, and (camera, category, time) of every
    camera observation. Camera detection is measured, not judged: it adds no problems."""
    report = TruthReport()
    _score_cameras(report, truth["events"], camera_observations)
    vague = {t["ticket_id"] for t in truth.get("tickets", []) if t.get("vague")}
    events = truth["events"]
    twins: dict[tuple[str, str], int] = defaultdict(int)
    for ev in events:
        twins[(ev["category"], ev["district"])] += 1
    members: dict[str, set[str]] = defaultdict(set)
    for tid, iid in incident_of_ticket.items():
        members[iid].add(tid)
    event_of_ticket = {t: ev["id"] for ev in events for t in ev["ticket_ids"]}

    for ev in events:
        if not ev["reported"]:
            continue
        report.reported_events += 1
        missing = [t for t in ev["ticket_ids"] if t not in incident_of_ticket]
        if missing:
            report.problems.append(f"{ev['id']}: tickets {missing} reached no incident")
            continue
        ambiguous = twins[(ev["category"], ev["district"])] > 1
        sure = [t for t in ev["ticket_ids"] if not (ambiguous and t in vague)]
        ids = {incident_of_ticket[t] for t in sure}
        if len(ids) != 1:
            report.problems.append(
                f"{ev['id']} ({ev['category']}): split over {len(ids)} incidents"
            )
            continue
        iid = ids.pop()
        inc = incidents[iid]
        foreign = [t for t in members[iid] if event_of_ticket.get(t) != ev["id"]]
        unexplained = sorted(t for t in foreign if not (ambiguous and t in vague))
        wrong = [f"merged with tickets {unexplained}"] if unexplained else []
        if inc.category != ev["category"]:
            wrong.append(f"category {inc.category} != {ev['category']}")
        if inc.district != ev["district"]:
            wrong.append(f"district {inc.district} != {ev['district']}")
        if inc.department != ev["department"]:
            wrong.append(f"department {inc.department} != {ev['department']}")
        for t in ev["ticket_ids"]:
            if ambiguous and t in vague:
                report.ambiguous_reports += 1
                got = incidents[incident_of_ticket[t]]
                if (got.category, got.district) != (ev["category"], ev["district"]):
                    wrong.append(
                        f"district-only report {t} joined a {got.category} in {got.district}"
                    )
        if wrong:
            report.problems.append(f"{ev['id']} ({ev['category']}): " + "; ".join(wrong))
        else:
            report.exact += 1

    for tid in truth.get("unrelated_ticket_ids", []):
        report.unrelated_reports += 1
        found = incident_of_ticket.get(tid)
        if found is None:
            report.problems.append(f"unrelated {tid}: reached no incident")
        elif incidents[found].category != UNCLASSIFIED or len(members[found]) != 1:
            report.problems.append(
                f"unrelated {tid}: became {incidents[found].category} with others"
            )
    return report


def _score_cameras(
    report: TruthReport, events: list[dict[str, Any]], seen: Sequence[tuple[str, str, datetime]]
) -> None:
    """An event in a camera's view counts as seen if that camera reported its category while it
    lasted; a camera observation that matches no event is counted as unmatched."""
    spans = [
        (
            ev["camera_id"],
            ev["category"],
            datetime.fromisoformat(ev["starts_at"]),
            datetime.fromisoformat(ev["ends_at"]),
        )
        for ev in events
        if ev.get("camera_id")
    ]
    report.camera_events = len(spans)
    hit = [False] * len(spans)
    for camera, category, at in seen:
        matched = False
        for i, (cam, cat, start, end) in enumerate(spans):
            if cam == camera and cat == category and start <= at <= end:
                hit[i] = matched = True
        report.camera_observations_unmatched += not matched
    report.camera_events_seen = sum(hit)


@dataclass
class CameraOnlyReport:
    """How well events that only a camera saw (nobody called) became routed incidents."""

    events: int = 0  # camera-only events in the truth
    found: int = 0  # ... with an incident of their category holding that camera's evidence
    routed_right: int = 0  # ... whose incident went to the responsible department
    incidents: int = 0  # incidents with camera evidence and no ticket
    incidents_true: int = 0  # ... whose camera evidence matches a real event
    missed: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.incidents_true / self.incidents if self.incidents else 1.0

    @property
    def recall(self) -> float:
        return self.routed_right / self.events if self.events else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "found": self.found,
            "routed_right": self.routed_right,
            "incidents": self.incidents,
            "incidents_true": self.incidents_true,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "missed": self.missed,
        }


CLEAR_SLACK_S = 600.0  # the rules report a clear a few frames after the scene is calm

CameraSpan = tuple[dict[str, Any], datetime, datetime]


def camera_spans(
    events: Sequence[dict[str, Any]], clear_slack_s: float = CLEAR_SLACK_S
) -> list[CameraSpan]:
    """Each event in a camera's view with the time its camera's evidence counts for it: from
    the event's start to its end plus `clear_slack_s`."""
    slack = timedelta(seconds=clear_slack_s)
    return [
        (ev, datetime.fromisoformat(ev["starts_at"]), datetime.fromisoformat(ev["ends_at"]) + slack)
        for ev in events
        if ev.get("camera_id")
    ]


def score_camera_only(
    truth: dict[str, Any],
    incidents: dict[str, IncidentFacts],
    camera_evidence: Sequence[tuple[str, str, datetime]],
    incident_of_ticket: dict[str, str],
    clear_slack_s: float = CLEAR_SLACK_S,
) -> CameraOnlyReport:
    """`camera_evidence` is (incident id, camera id, observed at) of every camera observation.
    Evidence counts for an event when its camera saw it within its span (`camera_spans`)."""
    spans = camera_spans(truth["events"], clear_slack_s)

    def matches(
        ev: dict[str, Any], start: datetime, end: datetime, iid: str, cam: str, at: datetime
    ) -> bool:
        return (
            cam == ev["camera_id"]
            and start <= at <= end
            and incidents[iid].category == ev["category"]
        )

    report = CameraOnlyReport()
    for ev, start, end in spans:
        if ev["reported"]:
            continue
        report.events += 1
        held = {iid for iid, cam, at in camera_evidence if matches(ev, start, end, iid, cam, at)}
        report.found += bool(held)
        if any(incidents[i].department == ev["department"] for i in held):
            report.routed_right += 1
        else:
            report.missed.append(f"{ev['id']} ({ev['category']} at {ev['camera_id']})")
    with_tickets = set(incident_of_ticket.values())
    by_incident: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    for iid, cam, at in camera_evidence:
        if iid not in with_tickets:
            by_incident[iid].append((cam, at))
    report.incidents = len(by_incident)
    report.incidents_true = sum(
        any(matches(ev, s, e, iid, cam, at) for ev, s, e in spans for cam, at in seen)
        for iid, seen in by_incident.items()
    )
    return report
