"""Compare two runs: incidents matched by category, district, time and place (never by id,
which follows from whichever observation happened to arrive first), then their departments,
dispatches and summaries. Pure over loaded runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from citybrain.core.geo import distance_m
from citybrain.core.messages import GeoPoint
from citybrain.replay.runs import Run

COMPARED = ("department", "severity", "status", "camera_count", "ticket_count")


@dataclass(frozen=True)
class MatchRules:
    time_tolerance_s: float = 300.0
    distance_m: float = 200.0
    align: bool = False  # shift B so its first incident opens when A's does


@dataclass
class RunDiff:
    matched: int = 0
    appeared: list[dict[str, Any]] = field(default_factory=list)
    disappeared: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    dispatches_appeared: list[dict[str, Any]] = field(default_factory=list)
    dispatches_disappeared: list[dict[str, Any]] = field(default_factory=list)
    summaries_changed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.appeared
            or self.disappeared
            or self.changed
            or self.dispatches_appeared
            or self.dispatches_disappeared
            or self.summaries_changed
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "identical": self.empty,
            "matched": self.matched,
            "appeared": self.appeared,
            "disappeared": self.disappeared,
            "changed": self.changed,
            "dispatches": {
                "appeared": self.dispatches_appeared,
                "disappeared": self.dispatches_disappeared,
            },
            "summaries_changed": self.summaries_changed,
        }


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s)


def _point(i: dict[str, Any]) -> GeoPoint | None:
    loc = i.get("location")
    return GeoPoint(**loc) if loc else None


def _brief(i: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": i["id"],
        "category": i["category"],
        "district": i["district"],
        "opened_at": i["opened_at"],
        "department": i["routing"]["department"],
    }


def _cost(
    a: dict[str, Any], b: dict[str, Any], rules: MatchRules, shift: timedelta
) -> float | None:
    if a["category"] != b["category"] or a["district"] != b["district"]:
        return None
    dt = abs((_t(a["opened_at"]) - (_t(b["opened_at"]) + shift)).total_seconds())
    if dt > rules.time_tolerance_s:
        return None
    pa, pb = _point(a), _point(b)
    if (pa is None) != (pb is None):
        return None
    d = distance_m(pa, pb) if pa is not None and pb is not None else 0.0
    if d > rules.distance_m:
        return None
    return dt + d


def match_incidents(
    a: list[dict[str, Any]], b: list[dict[str, Any]], rules: MatchRules
) -> list[tuple[int, int]]:
    """Greedy one-to-one matching, closest pairs (seconds + metres) first."""
    shift = timedelta(0)
    if rules.align and a and b:
        shift = min(_t(i["opened_at"]) for i in a) - min(_t(i["opened_at"]) for i in b)
    pairs = []
    for ia, x in enumerate(a):
        for ib, y in enumerate(b):
            c = _cost(x, y, rules, shift)
            if c is not None:
                pairs.append((c, ia, ib))
    pairs.sort()
    used_a: set[int] = set()
    used_b: set[int] = set()
    out = []
    for _, ia, ib in pairs:
        if ia not in used_a and ib not in used_b:
            used_a.add(ia)
            used_b.add(ib)
            out.append((ia, ib))
    return sorted(out)


def diff_runs(a: Run, b: Run, rules: MatchRules | None = None) -> RunDiff:
    rules = rules or MatchRules()
    out = RunDiff()
    pairs = match_incidents(a.incidents, b.incidents, rules)
    out.matched = len(pairs)
    ma, mb = {i for i, _ in pairs}, {j for _, j in pairs}
    out.disappeared = [_brief(x) for i, x in enumerate(a.incidents) if i not in ma]
    out.appeared = [_brief(y) for j, y in enumerate(b.incidents) if j not in mb]
    da, db = _dispatched(a), _dispatched(b)
    sa, sb = _summaries(a), _summaries(b)
    for i, j in pairs:
        x, y = a.incidents[i], b.incidents[j]
        changes = {}
        for f in COMPARED:
            vx = x["routing"]["department"] if f == "department" else x[f]
            vy = y["routing"]["department"] if f == "department" else y[f]
            if vx != vy:
                changes[f] = {"a": vx, "b": vy}
        if changes:
            out.changed.append({"a": _brief(x), "b": _brief(y), "changes": changes})
        ka, kb = da.get(x["id"], set()), db.get(y["id"], set())
        for dept in sorted(ka - kb):
            out.dispatches_disappeared.append({"incident": _brief(x), "department": dept})
        for dept in sorted(kb - ka):
            out.dispatches_appeared.append({"incident": _brief(y), "department": dept})
        if sa.get(x["id"]) != sb.get(y["id"]):
            out.summaries_changed.append(
                {"incident": _brief(y), "a": sa.get(x["id"]), "b": sb.get(y["id"])}
            )
    for i, x in enumerate(a.incidents):
        if i not in ma:
            for dept in sorted(da.get(x["id"], set())):
                out.dispatches_disappeared.append({"incident": _brief(x), "department": dept})
    for j, y in enumerate(b.incidents):
        if j not in mb:
            for dept in sorted(db.get(y["id"], set())):
                out.dispatches_appeared.append({"incident": _brief(y), "department": dept})
    return out


def _dispatched(r: Run) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for d in r.dispatches:
        out.setdefault(d["incident_id"], set()).add(d["department"])
    return out


def _summaries(r: Run) -> dict[str, str]:
    return {s["incident_id"]: s["summary"] for s in r.summaries}
