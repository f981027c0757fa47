"""Run diffs and incident scores over small hand-made runs, where every number is known."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from citybrain.replay.diff import MatchRules, diff_runs
from citybrain.replay.eval_incidents import evaluate_incidents
from citybrain.replay.runs import Run


def incident(
    iid: str, cat: str, district: str, opened: str, dept: str, lon: float = 120.13
) -> dict[str, Any]:
    return {
        "id": iid,
        "category": cat,
        "status": "open",
        "severity": "medium",
        "district": district,
        "location": {"lon": lon, "lat": 30.28},
        "opened_at": opened,
        "updated_at": opened,
        "resolved_at": None,
        "evidence_ids": [],
        "camera_count": 0,
        "ticket_count": 1,
        "routing": {"department": dept, "decided_by": "rule", "reason": "r"},
        "summary": f"{cat} [template]",
    }


def run(incidents: list[dict[str, Any]], evidence: list[dict[str, Any]] | None = None) -> Run:
    return Run(
        path=Path("."),
        meta={},
        incidents=incidents,
        dispatches=[
            {"incident_id": i["id"], "department": i["routing"]["department"]} for i in incidents
        ],
        summaries=[{"incident_id": i["id"], "summary": i["summary"]} for i in incidents],
        evidence=evidence or [],
    )


A = [
    incident("i1", "flooding", "xicheng", "2026-05-01T08:00:00Z", "water_drainage"),
    incident("i2", "pothole", "nanhu", "2026-05-01T08:10:00Z", "city_roads"),
    incident("i3", "noise", "nanhu", "2026-05-01T09:00:00Z", "environment"),
]


def test_a_run_against_itself_and_a_renamed_copy_is_empty() -> None:
    assert diff_runs(run(A), run(A)).empty
    renamed = copy.deepcopy(A)
    for i in renamed:
        i["id"] = "other-" + i["id"]  # ids follow arrival order; matching must not use them
    d = diff_runs(run(A), run(renamed))
    assert d.empty and d.matched == 3


def test_appeared_disappeared_and_changed_department() -> None:
    b = copy.deepcopy(A[:2])
    b[0]["routing"]["department"] = "urban_management"
    b[1]["opened_at"] = "2026-05-01T08:12:00Z"  # two minutes later: still the same incident
    b.append(incident("i9", "smoke_fire", "gaoxin", "2026-05-01T10:00:00Z", "fire_rescue"))
    d = diff_runs(run(A), run(b)).as_dict()
    assert [x["category"] for x in d["appeared"]] == ["smoke_fire"]
    assert [x["category"] for x in d["disappeared"]] == ["noise"]
    assert [(c["a"]["id"], c["changes"]) for c in d["changed"]] == [
        ("i1", {"department": {"a": "water_drainage", "b": "urban_management"}})
    ]
    assert {x["department"] for x in d["dispatches"]["appeared"]} == {
        "urban_management",
        "fire_rescue",
    }
    assert {x["department"] for x in d["dispatches"]["disappeared"]} == {
        "water_drainage",
        "environment",
    }
    assert d["matched"] == 2 and not d["identical"]


def test_too_far_in_time_or_space_does_not_match_unless_aligned() -> None:
    later = copy.deepcopy(A)
    for i in later:
        i["opened_at"] = i["opened_at"].replace("2026-05-01", "2026-05-03")
    assert diff_runs(run(A), run(later)).matched == 0
    assert diff_runs(run(A), run(later), MatchRules(align=True)).empty
    moved = copy.deepcopy(A)
    moved[0]["location"]["lon"] += 0.01  # about 960 m east
    assert len(diff_runs(run(A), run(moved)).as_dict()["appeared"]) == 1


TRUTH = {
    "events": [
        {
            "id": "E1",
            "category": "flooding",
            "district": "xicheng",
            "department": "water_drainage",
            "starts_at": "2026-05-01T07:50:00+00:00",
            "ends_at": "2026-05-01T10:00:00+00:00",
            "camera_id": "cam-01",
            "reported": True,
            "ticket_ids": ["T1", "T2"],
        },
        {
            "id": "E2",
            "category": "pothole",
            "district": "nanhu",
            "department": "city_roads",
            "starts_at": "2026-05-01T08:00:00+00:00",
            "ends_at": "2026-05-01T12:00:00+00:00",
            "camera_id": None,
            "reported": True,
            "ticket_ids": ["T3"],
        },
        {
            "id": "E3",
            "category": "fallen_tree",
            "district": "gaoxin",
            "department": "parks_greening",
            "starts_at": "2026-05-01T08:00:00+00:00",
            "ends_at": "2026-05-01T12:00:00+00:00",
            "camera_id": "cam-07",
            "reported": False,
            "ticket_ids": [],
        },
    ],
    "unrelated_ticket_ids": ["T4"],
    "tickets": [],
}


def ev(iid: str, source: str, sid: str, cat: str, at: str) -> dict[str, Any]:
    return {
        "incident_id": iid,
        "source": source,
        "source_id": sid,
        "category": cat,
        "observed_at": at,
    }


def test_incident_scores_by_hand() -> None:
    """E1 is found twice (a duplicate: tickets T1 and T2 split over i1 and i1b), E2 once but
    routed wrong, E3 never. i5 is camera noise (a false alarm); i4 holds only the unrelated
    ticket and is left out of precision. So: precision 3/4, recall 2/3, duplicate rate 1/2,
    routing 2/3 right, time to detection 10 min (E1, from i1) and 10 min (E2)."""
    incidents = [
        incident("i1", "flooding", "xicheng", "2026-05-01T08:00:00Z", "water_drainage"),
        incident("i1b", "flooding", "xicheng", "2026-05-01T08:30:00Z", "water_drainage"),
        incident("i2", "pothole", "nanhu", "2026-05-01T08:10:00Z", "urban_management"),
        incident("i4", "unclassified", "nanhu", "2026-05-01T08:20:00Z", "hotline_triage"),
        incident("i5", "smoke_fire", "xicheng", "2026-05-01T09:00:00Z", "fire_rescue"),
    ]
    evidence = [
        ev("i1", "ticket", "T1", "flooding", "2026-05-01T08:00:00+00:00"),
        ev("i1b", "ticket", "T2", "flooding", "2026-05-01T08:30:00+00:00"),
        ev("i1b", "camera", "cam-01", "flooding", "2026-05-01T08:31:00+00:00"),
        ev("i2", "ticket", "T3", "pothole", "2026-05-01T08:10:00+00:00"),
        ev("i4", "ticket", "T4", "unclassified", "2026-05-01T08:20:00+00:00"),
        ev("i5", "camera", "cam-01", "smoke_fire", "2026-05-01T09:00:00+00:00"),
    ]
    r = evaluate_incidents(run(incidents, evidence), TRUTH)
    assert (r["incidents"], r["incidents_judged"], r["incidents_true"]) == (5, 4, 3)
    assert r["precision"] == 0.75
    assert (r["events_detected"], r["events_detectable"], r["recall"]) == (
        2,
        3,
        pytest.approx(0.6667),
    )
    assert r["duplicate_rate"] == 0.5
    assert r["routing_accuracy"] == pytest.approx(0.6667)
    assert r["time_to_detection_s"] == {"mean": 600.0, "median": 600.0, "max": 600.0}
    assert (
        r["truth_score"]["reported_events"] == 2 and r["truth_score"]["one_correct_incident"] == 0
    )


def test_the_score_table_shows_each_metric() -> None:
    from rich.console import Console

    from citybrain.replay.render import print_incident_eval

    r = evaluate_incidents(
        run(A[:1], [ev("i1", "ticket", "T1", "flooding", "2026-05-01T08:00:00+00:00")]), TRUTH
    )
    console = Console(record=True, width=200)
    print_incident_eval(r, console)
    text = console.export_text()
    for label in ("precision", "recall", "duplicate rate", "time to detection", "routing accuracy"):
        assert label in text
    assert "1.000 (1 / 1)" in text and "(1 / 3)" in text  # one true incident; one of three events
