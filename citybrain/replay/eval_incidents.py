"""Score a run against the simulator's ground truth: incident precision and recall, duplicate
rate, time to detection and routing accuracy, beside the project's own truth score
(core.evaluation), which checks one correct incident per reported event.

An incident is about an event when any of its evidence is: a ticket the truth assigns to the
event, or a camera observation of the event's category by the event's camera while it lasted.
Incidents made only of tickets the truth calls unrelated are triage work, not detections; they
count in neither precision's numerator nor its denominator.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from citybrain.core.evaluation import IncidentFacts, score_against_truth
from citybrain.replay.runs import Run


@dataclass(frozen=True)
class _Event:
    id: str
    category: str
    department: str
    camera_id: str | None
    starts_at: datetime
    ends_at: datetime
    detectable: bool


def _events(truth: dict[str, Any]) -> dict[str, _Event]:
    return {
        e["id"]: _Event(
            e["id"],
            e["category"],
            e["department"],
            e.get("camera_id"),
            datetime.fromisoformat(e["starts_at"]),
            datetime.fromisoformat(e["ends_at"]),
            bool(e.get("reported") or e.get("camera_id")),
        )
        for e in truth["events"]
    }


def evaluate_incidents(run: Run, truth: dict[str, Any]) -> dict[str, Any]:
    events = _events(truth)
    event_of_ticket = {t: e["id"] for e in truth["events"] for t in e["ticket_ids"]}
    unrelated = set(truth.get("unrelated_ticket_ids", []))
    incidents = {i["id"]: i for i in run.incidents}

    about: dict[str, Counter[str]] = defaultdict(Counter)  # incident -> events its evidence names
    only_unrelated: dict[str, bool] = {}
    for ev in run.evidence:
        iid = ev["incident_id"]
        hit = None
        if ev["source"] == "ticket":
            hit = event_of_ticket.get(ev["source_id"])
            only_unrelated[iid] = only_unrelated.get(iid, True) and ev["source_id"] in unrelated
        else:
            only_unrelated[iid] = False
            at = datetime.fromisoformat(ev["observed_at"])
            for e in events.values():
                if (
                    e.camera_id == ev["source_id"]
                    and e.category == ev["category"]
                    and e.starts_at <= at <= e.ends_at
                ):
                    hit = e.id
        if hit is not None:
            about[iid][hit] += 1

    true_incidents = {}  # incident -> the event most of its evidence is about (same category)
    for iid, counts in about.items():
        same = [
            (n, eid)
            for eid, n in counts.items()
            if events[eid].category == incidents[iid]["category"]
        ]
        if same:
            true_incidents[iid] = max(same)[1]
    judged = [iid for iid in incidents if not only_unrelated.get(iid, False)]
    incidents_of_event: dict[str, list[str]] = defaultdict(list)
    for iid, eid in true_incidents.items():
        incidents_of_event[eid].append(iid)

    detectable = [e for e in events.values() if e.detectable]
    found = [e for e in detectable if incidents_of_event.get(e.id)]
    ttd = [
        (
            min(datetime.fromisoformat(incidents[i]["opened_at"]) for i in incidents_of_event[e.id])
            - e.starts_at
        ).total_seconds()
        for e in found
    ]
    routed_right = sum(
        incidents[i]["routing"]["department"] == events[e].department
        for i, e in true_incidents.items()
    )
    facts = {
        i["id"]: IncidentFacts(i["category"], i["district"], i["routing"]["department"])
        for i in run.incidents
    }
    incident_of = {
        e["source_id"]: e["incident_id"] for e in run.evidence if e["source"] == "ticket"
    }
    cams = [
        (e["source_id"], e["category"], datetime.fromisoformat(e["observed_at"]))
        for e in run.evidence
        if e["source"] == "camera"
    ]
    truth_score = score_against_truth(truth, incident_of, facts, cams).as_dict()
    return {
        "incidents": len(incidents),
        "incidents_judged": len(judged),
        "incidents_true": sum(i in true_incidents for i in judged),
        "precision": _ratio(sum(i in true_incidents for i in judged), len(judged)),
        "events_detectable": len(detectable),
        "events_detected": len(found),
        "recall": _ratio(len(found), len(detectable)),
        "duplicate_rate": _ratio(sum(len(incidents_of_event[e.id]) > 1 for e in found), len(found)),
        "time_to_detection_s": {
            "mean": round(statistics.fmean(ttd), 1) if ttd else None,
            "median": round(statistics.median(ttd), 1) if ttd else None,
            "max": round(max(ttd), 1) if ttd else None,
        },
        "routing_accuracy": _ratio(routed_right, len(true_incidents)),
        "truth_score": truth_score,
    }


def _ratio(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None
