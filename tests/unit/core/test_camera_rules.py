"""Camera event rules, table-driven: persistence, clearing, dwell with tracks, counts, scene
scores, per-camera and per-zone overrides, stale frames and unknown cameras."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.config.rules import CameraRuleSettings, Rule, RuleOverride, RulePatch
from citybrain.core.camera_rules import CameraRules
from citybrain.core.city import City
from citybrain.core.messages import Detection

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
CAM = "cam-01"
KERB_BOX = (0.88, 0.62, 0.98, 0.95)  # footprint inside the kerb zone
ROAD_BOX = (0.45, 0.6, 0.55, 0.9)  # footprint inside the carriageway


def bin_(conf: float = 0.9) -> Detection:
    return Detection(cls="bin_overflow", confidence=conf, box=(0.05, 0.6, 0.15, 0.9), zone="bins")


def car(track: int | None, box: tuple[float, float, float, float] = KERB_BOX) -> Detection:
    return Detection(cls="vehicle", confidence=0.8, box=box, zone="kerb", track_id=track)


def run(
    rules: CameraRules, frames: list[dict[str, list[Detection]]], step_s: float = 60, **kw: object
) -> list[str]:
    """One label per frame: the decision for `category` or '-' when none."""
    category = str(kw.get("category", "overflowing_bin"))
    out = []
    for i, ev in enumerate(frames):
        scores = kw.get("scores")
        decided = rules.step(
            CAM,
            T0 + timedelta(seconds=i * step_s),
            ev,
            scores[i] if isinstance(scores, list) else None,
        )
        mine = [d.state for d in decided if d.category == category]
        out.append(mine[0] if mine else "-")
    return out


HIT = {"overflowing_bin": [bin_()]}
MISS: dict[str, list[Detection]] = {}


@pytest.mark.parametrize(
    ("k", "n", "m", "frames", "expected"),
    [
        # 3 of the last 5 frames open; 3 quiet frames in a row clear.
        (3, 5, 3, "HHH..H...", ["-", "-", "opened", "-", "-", "continuing", "-", "-", "cleared"]),
        (3, 5, 3, "H.H.H", ["-", "-", "-", "-", "opened"]),  # not consecutive, still 3 of 5
        (3, 5, 3, "H...H...H", ["-"] * 9),  # never 3 within 5 frames: one noisy frame at a time
        (1, 1, 1, "H.H", ["opened", "cleared", "opened"]),  # the rule without persistence
        (2, 3, 2, "HH.H..", ["-", "opened", "-", "continuing", "-", "cleared"]),
    ],
)
def test_persistence_opens_and_clears(
    city: City, k: int, n: int, m: int, frames: str, expected: list[str]
) -> None:
    rules = CameraRules(city, CameraRuleSettings(default=Rule(open_k=k, window_n=n, clear_m=m)))
    assert run(rules, [HIT if c == "H" else MISS for c in frames]) == expected


def test_low_confidence_detections_do_not_count(city: City) -> None:
    rules = CameraRules(
        city, CameraRuleSettings(default=Rule(open_k=1, window_n=1, min_confidence=0.5))
    )
    assert run(rules, [{"overflowing_bin": [bin_(0.3)]}, {"overflowing_bin": [bin_(0.6)]}]) == [
        "-",
        "opened",
    ]


def test_count_in_zone(city: City) -> None:
    s = CameraRuleSettings(
        default=Rule(open_k=1, window_n=1),
        categories={"overflowing_bin": RulePatch(min_count=2)},
    )
    decisions = run(CameraRules(city, s), [HIT, {"overflowing_bin": [bin_(), bin_(0.7)]}])
    assert decisions == ["-", "opened"]


def test_event_id_is_stable_from_open_to_clear(city: City) -> None:
    rules = CameraRules(city, CameraRuleSettings(default=Rule(open_k=1, window_n=1, clear_m=1)))
    a = rules.step(CAM, T0, HIT)
    b = rules.step(CAM, T0 + timedelta(minutes=1), HIT)
    c = rules.step(CAM, T0 + timedelta(minutes=2), MISS)
    assert [x[0].state for x in (a, b, c)] == ["opened", "continuing", "cleared"]
    assert a[0].event_id == b[0].event_id == c[0].event_id
    assert a[0].rule_id == "overflowing_bin@cam-01/bins" and c[0].detections == ()


DWELL = CameraRuleSettings(
    default=Rule(open_k=1, window_n=1, clear_m=1),
    categories={"illegal_parking": RulePatch(dwell_s=120)},
)


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        # The same tracked car at the kerb for 2 minutes: an event, with its dwell.
        ([[car(7)], [car(7)], [car(7)]], ["-", "-", "opened"]),
        # A different car every frame (traffic): never dwells.
        ([[car(1)], [car(2)], [car(3)], [car(4)]], ["-", "-", "-", "-"]),
        # Untracked detections cannot dwell.
        ([[car(None)], [car(None)], [car(None)]], ["-", "-", "-"]),
        # The car moved along the kerb: its dwell starts over.
        (
            [
                [car(5)],
                [car(5)],
                [car(5, (0.88, 0.75, 0.98, 1.0))],
                [car(5, (0.88, 0.75, 0.98, 1.0))],
            ],
            ["-", "-", "-", "-"],
        ),
    ],
)
def test_dwell_needs_one_tracked_object_to_stay(
    city: City, frames: list[list[Detection]], expected: list[str]
) -> None:
    rules = CameraRules(city, DWELL)
    got = run(rules, [{"illegal_parking": f} for f in frames], category="illegal_parking")
    assert got == expected


def test_dwell_reports_track_and_time(city: City) -> None:
    rules = CameraRules(city, DWELL)
    for i in range(3):
        d = rules.step(CAM, T0 + timedelta(minutes=i), {"illegal_parking": [car(7)]})
    assert d[0].track_ids == (7,) and d[0].dwell_s == 120.0 and d[0].count == 1


def test_scene_scores_open_events_that_are_not_objects(city: City) -> None:
    s = CameraRuleSettings(
        default=Rule(open_k=2, window_n=3),
        categories={"flooding": RulePatch(scene_threshold=0.6)},
    )
    scores = [{"flooding": 0.7}, {"flooding": 0.4}, {"flooding": 0.8}, {"flooding": 0.9}]
    got = run(CameraRules(city, s), [MISS] * 4, category="flooding", scores=scores)
    assert got == ["-", "-", "opened", "continuing"]
    # Without a threshold (the default, 1.0) scores are ignored.
    off = run(
        CameraRules(city, CameraRuleSettings()), [MISS] * 4, category="flooding", scores=scores
    )
    assert off == ["-"] * 4


def test_overrides_camera_then_zone(city: City) -> None:
    s = CameraRuleSettings(
        default=Rule(open_k=3, window_n=5),
        categories={"overflowing_bin": RulePatch(open_k=2)},
        overrides=[
            RuleOverride(camera=CAM, open_k=4),
            RuleOverride(camera=CAM, zone="bins", category="overflowing_bin", open_k=1),
            RuleOverride(camera="cam-02", category="flooding", clear_m=9),
        ],
    )
    assert s.rule_for("overflowing_bin", CAM, "bins").open_k == 1
    assert s.rule_for("pothole", CAM, "roadway").open_k == 4
    assert s.rule_for("overflowing_bin", "cam-03", "bins").open_k == 2
    assert s.rule_for("flooding", "cam-02", "roadway").clear_m == 9
    assert s.rule_for("pothole", "cam-02", "roadway").clear_m == 3


def test_rule_rejects_k_larger_than_n() -> None:
    with pytest.raises(ValueError, match="open_k"):
        Rule(open_k=6, window_n=5)


def test_stale_frames_and_unknown_cameras_are_counted_not_applied(city: City) -> None:
    rules = CameraRules(city, CameraRuleSettings(default=Rule(open_k=1, window_n=1)))
    assert rules.step(CAM, T0 + timedelta(minutes=5), HIT)[0].state == "opened"
    assert rules.step(CAM, T0, MISS) == []  # older than the last frame: ignored
    assert rules.step("cam-deleted", T0, HIT) == []
    rules.step(CAM, T0 + timedelta(minutes=6), HIT, {"meteor": 0.9})
    assert rules.stats == {"stale_frames": 1, "unknown_camera": 1, "unknown_scene_category": 1}


@settings(max_examples=80, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=40), st.integers(1, 5), st.integers(1, 4))
def test_events_alternate_and_never_open_on_fewer_than_k_hits(
    city: City, hits: list[bool], k: int, m: int
) -> None:
    rules = CameraRules(city, CameraRuleSettings(default=Rule(open_k=k, window_n=5, clear_m=m)))
    states = run(rules, [HIT if h else MISS for h in hits])
    transitions = [s for s in states if s in ("opened", "cleared")]
    assert transitions == ["opened", "cleared"] * (len(transitions) // 2) + (
        ["opened"] if len(transitions) % 2 else []
    )
    for i, s in enumerate(states):
        if s == "opened":
            assert sum(hits[max(0, i - 4) : i + 1]) >= k and hits[i]
        if s == "continuing":
            assert hits[i]


def test_continuing_is_throttled_per_event_by_event_time(city: City) -> None:
    """A camera at one frame a second hitting for ten minutes: one 'continuing' per
    continuing_every_s, not one per frame (each would become stored evidence); opening and
    clearing are never held back."""
    s = CameraRuleSettings(default=Rule(open_k=1, window_n=1, clear_m=1), continuing_every_s=60)
    rules = CameraRules(city, s)
    got = run(rules, [HIT] * 600 + [MISS], step_s=1)
    assert got[0] == "opened" and got[-1] == "cleared"
    continuing = [i for i, g in enumerate(got) if g == "continuing"]
    assert continuing == list(range(60, 600, 60))
    assert rules.stats["continuing_throttled"] == 599 - len(continuing)
    every_frame = run(CameraRules(city, s.model_copy(update={"continuing_every_s": 0})), [HIT] * 5)
    assert every_frame == ["opened"] + ["continuing"] * 4
