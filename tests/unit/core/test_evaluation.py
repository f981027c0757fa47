"""The truth scorer itself, on hand-made truth: it must catch each kind of mistake."""

from datetime import UTC, datetime, timedelta

from citybrain.core.evaluation import IncidentFacts, score_against_truth, score_camera_only

TRUTH = {
    "events": [
        {
            "id": "e1",
            "category": "flooding",
            "district": "a",
            "department": "water",
            "reported": True,
            "ticket_ids": ["t1", "t2"],
        },
        {
            "id": "e2",
            "category": "flooding",
            "district": "a",
            "department": "water",
            "reported": True,
            "ticket_ids": ["t3", "t4"],
        },
        {
            "id": "e3",
            "category": "pothole",
            "district": "b",
            "department": "roads",
            "reported": True,
            "ticket_ids": ["t5"],
        },
        {
            "id": "e4",
            "category": "pothole",
            "district": "b",
            "department": "roads",
            "reported": False,
            "ticket_ids": [],
        },
    ],
    "tickets": [{"ticket_id": "t4", "vague": True}],
    "unrelated_ticket_ids": ["u1"],
}
WATER_A = IncidentFacts("flooding", "a", "water")


def test_perfect_output_scores_clean() -> None:
    incidents = {
        "i1": WATER_A,
        "i2": WATER_A,
        "i3": IncidentFacts("pothole", "b", "roads"),
        "i4": IncidentFacts("unclassified", None, "triage"),
    }
    of = {"t1": "i1", "t2": "i1", "t3": "i2", "t4": "i2", "t5": "i3", "u1": "i4"}
    r = score_against_truth(TRUTH, of, incidents)
    assert r.ok and (r.reported_events, r.exact, r.ambiguous_reports) == (3, 3, 1)


def test_ambiguous_district_report_may_join_the_twin() -> None:
    incidents = {
        "i1": WATER_A,
        "i2": WATER_A,
        "i3": IncidentFacts("pothole", "b", "roads"),
        "i4": IncidentFacts("unclassified", None, "triage"),
    }
    of = {"t1": "i1", "t2": "i1", "t3": "i2", "t4": "i1", "t5": "i3", "u1": "i4"}
    assert score_against_truth(TRUTH, of, incidents).ok


def test_each_mistake_is_reported() -> None:
    incidents = {
        "i1": WATER_A,
        "i2": WATER_A,
        "i3": IncidentFacts("pothole", "b", "water"),
        "i4": IncidentFacts("flooding", "a", "water"),
    }
    of = {"t1": "i1", "t2": "i2", "t3": "i2", "t4": "i2", "t5": "i3", "u1": "i4"}
    r = score_against_truth(TRUTH, of, incidents)
    text = "\n".join(r.problems)
    assert "e1 (flooding): split over 2 incidents" in text
    assert "e2 (flooding): merged with tickets ['t2']" in text
    assert "e3 (pothole): department water != roads" in text
    assert "unrelated u1" in text
    assert r.exact == 0


def test_camera_events_seen_and_unmatched_observations() -> None:
    from datetime import UTC, datetime

    truth = {
        "events": [
            {
                "id": "c1",
                "category": "pothole",
                "district": "b",
                "department": "roads",
                "reported": False,
                "ticket_ids": [],
                "camera_id": "cam-1",
                "starts_at": "2026-05-01T08:00:00+00:00",
                "ends_at": "2026-05-01T09:00:00+00:00",
            },
            {
                "id": "c2",
                "category": "flooding",
                "district": "b",
                "department": "water",
                "reported": False,
                "ticket_ids": [],
                "camera_id": "cam-2",
                "starts_at": "2026-05-01T08:00:00+00:00",
                "ends_at": "2026-05-01T09:00:00+00:00",
            },
        ],
        "unrelated_ticket_ids": [],
    }
    at = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
    seen = [
        ("cam-1", "pothole", at),  # during the event: seen
        ("cam-1", "pothole", at.replace(hour=10)),  # after it ended: unmatched
        ("cam-2", "pothole", at),  # wrong category: unmatched
    ]
    r = score_against_truth(truth, {}, {}, seen)
    assert (r.camera_events, r.camera_events_seen, r.camera_observations_unmatched) == (2, 1, 2)
    assert r.ok  # detection quality is measured, never a routing problem


def test_camera_only_events_scored_for_recall_and_camera_incidents_for_precision() -> None:
    """Two events nobody reported (one found and routed right, one missed), one reported event,
    and camera incidents: a true one, one holding the reported event's camera evidence but no
    ticket (a duplicate, still true), and a false alarm."""
    t0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)

    def ev(eid: str, cam: str, cat: str, dept: str, reported: bool) -> dict[str, object]:
        return {
            "id": eid,
            "camera_id": cam,
            "category": cat,
            "department": dept,
            "district": "d",
            "reported": reported,
            "starts_at": t0.isoformat(),
            "ends_at": (t0 + timedelta(minutes=10)).isoformat(),
        }

    truth = {
        "events": [
            ev("e1", "cam-1", "flooding", "water", False),
            ev("e2", "cam-2", "smoke_fire", "fire", False),
            ev("e3", "cam-3", "pothole", "roads", True),
        ]
    }
    incidents = {
        "i1": IncidentFacts("flooding", "d", "water"),
        "i2": IncidentFacts("pothole", "d", "roads"),
        "i3": IncidentFacts("pothole", "d", "roads"),
        "i4": IncidentFacts("smoke_fire", "d", "fire"),
    }
    at = t0 + timedelta(minutes=3)
    evidence = [
        ("i1", "cam-1", at),
        ("i1", "cam-1", t0 + timedelta(minutes=14)),  # the clear, within the slack
        ("i2", "cam-3", at),
        ("i3", "cam-3", at),
        ("i4", "cam-4", at),  # smoke where no camera saw any: a false alarm
    ]
    r = score_camera_only(truth, incidents, evidence, {"T-1": "i2"})
    assert (r.events, r.found, r.routed_right) == (2, 1, 1)
    assert r.missed == ["e2 (smoke_fire at cam-2)"]
    assert (r.incidents, r.incidents_true) == (3, 2)  # i1, i3, i4; i2 holds a ticket
    assert r.recall == 0.5 and abs(r.precision - 2 / 3) < 1e-9
