"""What the fault suite compares: a run's outcome read back from its store, topics and webhook
receiver, and the checks of a faulted run against the fault-free reference (lost, duplicated,
regrouped by arrival order), each naming its records."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select

from citybrain.config import Settings
from citybrain.core.evaluation import CameraSpan, camera_spans
from citybrain.core.ids import FOLLOW_UP_PREFIX, summary_followup_id
from citybrain.store import Store
from citybrain.store.summary_queue import SummaryWorkRow
from citybrain.streams import inspect
from citybrain.streams.topics import Topics


def camera_label(spans: list[CameraSpan], camera: str, category: str, at: datetime) -> str:
    """What a camera observation is evidence of: the simulated event its camera saw then
    (`<event>@<camera>`), or `<camera>/<category>?` for what matches none (a false alarm of
    the detector, the same in both runs as long as the same frames were seen)."""
    for ev, start, end in spans:
        if ev["camera_id"] == camera and ev["category"] == category and start <= at <= end:
            return f"{ev['id']}@{camera}"
    return f"{camera}/{category}?"


def outcome(s: Settings, truth: dict[str, Any]) -> dict[str, Any]:
    store = Store.open(s.store)
    topics = Topics(s.kafka.topic_prefix)
    wire: Counter[str] = Counter()
    follow_wire: Counter[str] = Counter()  # the summary worker's follow-ups of dispatches
    for r in inspect.read_topic(s.kafka, topics.dispatch):
        headers = dict(r.headers)
        key = headers.get("idempotency-key", b"").decode()
        (follow_wire if headers.get("follow-up") == b"summary" else wire)[key] += 1
    incidents = store.incidents(limit=100_000)
    evidence = store.evidence()
    # An incident's id comes from its first observation, which depends on arrival order (the
    # reference gets every record at once); what it holds does not. So incidents are compared
    # by their tickets and the simulated events their cameras saw, and dispatches by (that,
    # department). A camera replays frames after a kill, so an event's observations are
    # counted as one label, however many of them there are.
    spans = camera_spans(truth["events"])
    members: dict[str, set[str]] = {}
    seen_by: dict[str, set[str]] = {}  # camera label -> incidents holding it
    for e in evidence:
        label = e.source_id
        if e.source == "camera":
            label = camera_label(spans, e.source_id, e.category, e.observed_at)
            seen_by.setdefault(label, set()).add(e.incident_id)
        members.setdefault(e.incident_id, set()).add(label)
    canon = {i.id: "+".join(sorted(members.get(i.id, ()))) or i.id for i in incidents}
    dispatches = store.dispatches()
    by_id = {d.id: f"{canon.get(d.incident_id, d.incident_id)}>{d.department}" for d in dispatches}
    # every standing model summary must have reached the topic as a follow-up of the dispatch
    # to the department holding the incident now (keyed by dispatch and text): a department it
    # was moved away from, or an earlier life's dispatch, hears no more of it
    summaries = {i.id: r for i in incidents if (r := store.summary(i.id)) is not None}
    followups: dict[str, str] = {}
    for i in incidents:
        row = summaries.get(i.id)
        if row is not None and row.generated_by == "model":
            digest = hashlib.sha256(row.text.encode()).hexdigest()[:16]
            d = store.holder_dispatch(i.id)
            if d is not None and d.summary != row.text:  # made since: it carries the text
                followups[summary_followup_id(d.id, digest)] = by_id[d.id]
    with store.sessions() as sess:
        queue = Counter(sess.scalars(select(SummaryWorkRow.status)).all())
    out = {
        "tickets": Counter(e.source_id for e in evidence if e.source == "ticket"),
        "camera_events": Counter({label: len(held) for label, held in seen_by.items()}),
        "camera_observations": sum(e.source == "camera" for e in evidence),
        "incidents": Counter(canon.values()),
        "states": {canon[i.id]: (i.status, i.department) for i in incidents},
        "dispatches": Counter(by_id.values()),
        "dispatch_wire": Counter(by_id.get(k, k) for k in wire.elements()),
        "summaries": {canon[iid] for iid in summaries},
        "deliveries": {d.id: d.status for d in store.deliveries()},
        "delivery_key": by_id,
        "followups": followups,
        "followup_wire": follow_wire,
        "summary_queue": dict(queue),
        "summaries_by": Counter(r.generated_by for r in summaries.values()),
    }
    store.engine.dispose()
    return out


def regrouped(ref: Counter[str], got: Counter[str]) -> set[str]:
    """Incidents (as ticket groups) that differ only in how the same tickets were grouped:
    fusion can group a chain of reports, each within the radius of the next, by arrival order
    (ARCHITECTURE.md, "Bad input"). Same tickets, same number of incidents: not lost, not
    doubled; reported apart."""
    lost = [k for k in ref if k not in got]
    extra = [k for k in got if k not in ref]

    def tickets(keys: list[str]) -> list[str]:
        return sorted(t for k in keys for t in k.split("+"))

    if len(lost) == len(extra) and tickets(lost) == tickets(extra):
        return set(lost) | set(extra)
    return set()


def compare(ref: dict[str, Any], got: dict[str, Any], accepted: Counter[str]) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    moved = regrouped(ref["incidents"], got["incidents"])

    def check(
        name: str,
        want: set[str],
        have: Counter[str] | set[str] | dict[str, Any],
        ref_counts: Counter[str] | None = None,
    ) -> None:
        """`ref_counts`: how often each key is there in the reference, where more than once
        is right (two false alarms of one camera); else once."""
        counts = have if isinstance(have, Counter) else Counter(have)
        lost = sorted(want - set(counts))
        extra = sorted(k for k in counts if k not in want)
        allowed = ref_counts or Counter()
        doubled = sorted(k for k, n in counts.items() if n > max(1, allowed[k]))
        apart = {k for k in [*lost, *extra] if k.split(">")[0] in moved}
        checks[name] = {
            "expected": len(want),
            "lost": [k for k in lost if k not in apart],
            "duplicated": sorted((set(extra) - apart) | set(doubled)),
            "regrouped": sorted(apart),
        }

    check("tickets_stored", set(ref["tickets"]), got["tickets"])
    # every event a camera saw in the reference is seen again, in no more incidents than there
    check("camera_events", set(ref["camera_events"]), got["camera_events"], ref["camera_events"])
    check("incidents", set(ref["incidents"]), got["incidents"], ref["incidents"])
    check("dispatches", set(ref["dispatches"]), got["dispatches"], ref["dispatches"])
    check("dispatch_messages", set(ref["dispatches"]), set(got["dispatch_wire"]))
    followed = {k: n for k, n in accepted.items() if k.startswith(FOLLOW_UP_PREFIX)}
    webhooks = Counter(
        {got["delivery_key"].get(k, k): n for k, n in accepted.items() if k not in followed}
    )
    check("webhook_deliveries", set(ref["dispatches"]), set(webhooks))
    check("summaries", set(ref["incidents"]), got["summaries"])
    # model summaries: each standing one reached the topic and the receiver as a follow-up of
    # every dispatch of its incident (follow-ups of texts later replaced count as neither)
    for name, have in (
        ("summary_followups_on_topic", got["followup_wire"]),
        ("summary_followups_delivered", followed),
    ):
        want = set(got["followups"])
        checks[name] = {
            "expected": len(want),
            "lost": sorted(f"{k} ({got['followups'][k]})" for k in want - set(have)),
            "duplicated": [],
        }
    unsettled = {k: n for k, n in got["summary_queue"].items() if k not in ("done", "failed")}
    checks["summary_queue_settled"] = {
        "expected": sum(got["summary_queue"].values()),
        "by_status": got["summary_queue"],
        "summaries_by": dict(got["summaries_by"]),
        "lost": [f"{n} {status}" for status, n in unsettled.items()],
        "duplicated": [],
    }
    same = {k for k in ref["states"] if got["states"].get(k) == ref["states"][k]}
    checks["incident_states_equal"] = {
        "equal": len(same),
        "of": len(ref["states"]),
        "regrouped": len(moved) // 2,
    }
    checks["redelivered_on_the_wire"] = {
        "dispatch_messages": sum(n - 1 for n in got["dispatch_wire"].values()),
        "summary_followups": sum(n - 1 for n in got["followup_wire"].values()),
        "webhooks": sum(n - 1 for n in accepted.values()),
        "note": "same idempotency key sent again after a kill between send and mark-sent",
    }
    return checks
