from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.config.incidents import IncidentSettings
from citybrain.core.city import City
from citybrain.core.fusion import Fuser
from citybrain.core.messages import GeoPoint, Observation

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
XINHUA_ZHONGSHAN = GeoPoint(lon=120.128, lat=30.287)  # xicheng
JIANSHE_RENMIN = GeoPoint(lon=120.155, lat=30.272)  # beicheng, ~2.9 km away


def obs(
    oid: str,
    category: str = "flooding",
    at: GeoPoint | None = XINHUA_ZHONGSHAN,
    district: str | None = "xicheng",
    minutes: float = 0,
    source: str = "ticket",
) -> Observation:
    return Observation(
        id=oid,
        source=source,  # type: ignore[arg-type]
        source_id=f"src-{oid}",
        category=category,
        confidence=0.9,
        observed_at=T0 + timedelta(minutes=minutes),
        location=at,
        district=district,
        precision="point" if at else ("district" if district else "unlocated"),
    )


def fuser(city: City, **kw: float) -> Fuser:
    return Fuser(city, IncidentSettings(**kw))


def test_duplicate_reports_of_one_place_make_one_incident(city: City) -> None:
    f = fuser(city)
    near = GeoPoint(lon=120.1285, lat=30.2872)  # ~55 m away
    results = [
        f.apply(obs("a")),
        f.apply(obs("b", at=near, minutes=5)),
        f.apply(obs("c", minutes=9)),
    ]
    assert [r.created for r in results] == [True, False, False]
    assert len(f.incidents) == 1
    inc = next(iter(f.incidents.values()))
    assert inc.evidence_ids == ("a", "b", "c")
    assert inc.ticket_count == 3
    assert inc.status == "updated"


def test_far_apart_or_other_category_make_separate_incidents(city: City) -> None:
    f = fuser(city)
    f.apply(obs("a"))
    f.apply(obs("b", at=JIANSHE_RENMIN, district="beicheng"))
    f.apply(obs("c", category="pothole"))
    assert len(f.incidents) == 3


def test_outside_the_time_window_opens_a_new_incident(city: City) -> None:
    f = fuser(city, window_s=3600)
    f.apply(obs("a"))
    assert f.apply(obs("b", minutes=30)).created is False
    assert f.apply(obs("c", minutes=30 + 61)).created is True


def test_reapplying_an_observation_changes_nothing(city: City) -> None:
    f = fuser(city)
    f.apply(obs("a"))
    before = dict(f.incidents)
    again = f.apply(obs("a"))
    assert (again.created, again.changed) == (False, False)
    assert f.incidents == before


def test_district_only_report_joins_the_located_incident_either_way(city: City) -> None:
    for order in (["p", "d"], ["d", "p"]):
        f = fuser(city)
        items = {"p": obs("p"), "d": obs("d", at=None, minutes=1)}
        for key in order:
            f.apply(items[key])
        assert len(f.incidents) == 1
        inc = next(iter(f.incidents.values()))
        assert inc.location == XINHUA_ZHONGSHAN
        assert inc.district == "xicheng"


def test_unclassified_reports_are_never_merged(city: City) -> None:
    f = fuser(city)
    f.apply(obs("a", category="unclassified", at=None, district=None))
    f.apply(obs("b", category="unclassified", at=None, district=None))
    assert len(f.incidents) == 2


def test_corroboration_raises_severity(city: City) -> None:
    f = fuser(city)
    assert f.apply(obs("a", category="pothole")).incident.severity == "medium"  # type: ignore[union-attr]
    cam = f.apply(obs("b", category="pothole", source="camera"))
    assert cam.incident.severity == "high"  # type: ignore[union-attr]


def test_idle_incidents_resolve_by_event_time(city: City) -> None:
    f = fuser(city, idle_resolve_s=600)
    f.apply(obs("a"))
    assert f.expire() == []
    f.apply(obs("b", at=JIANSHE_RENMIN, district="beicheng", minutes=11))
    resolved = f.expire()
    assert [r.evidence_ids for r in resolved] == [("a",)]
    assert resolved[0].status == "resolved"
    assert resolved[0].resolved_by == "timeout"
    # The same event returning soon after reopens the resolved incident...
    back = f.apply(obs("c", minutes=12))
    assert (back.created, back.note, back.incident.status) == (False, "reopened", "reopened")  # type: ignore[union-attr]
    assert back.incident.evidence_ids == ("a", "c")  # type: ignore[union-attr]
    # ...and after reopen_s it is a new problem, a fresh incident.
    g = fuser(city, idle_resolve_s=600, reopen_s=60)
    g.apply(obs("a"))
    g.apply(obs("b", at=JIANSHE_RENMIN, district="beicheng", minutes=11))
    g.expire()
    assert g.apply(obs("c", minutes=13)).created is True


def test_state_reloaded_from_a_snapshot_continues_identically(city: City) -> None:
    f = fuser(city)
    f.apply(obs("a"))
    g = fuser(city)
    g.load(list(f.incidents.values()))
    assert g.apply(obs("a")).changed is False
    assert g.apply(obs("b", minutes=3)).created is False


PLACES = [XINHUA_ZHONGSHAN, JIANSHE_RENMIN, GeoPoint(lon=120.208, lat=30.235)]
DISTRICTS = ["xicheng", "beicheng", "gaoxin"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(["flooding", "pothole"]), st.integers(0, 120)),
        min_size=1,
        max_size=12,
    ),
    st.randoms(use_true_random=False),
)
def test_arrival_order_does_not_change_the_incidents(
    city: City, items: list[tuple[int, str, int]], rnd: object
) -> None:
    observations = [
        obs(f"o{i}", category=c, at=PLACES[p], district=DISTRICTS[p], minutes=m)
        for i, (p, c, m) in enumerate(items)
    ]

    def grouping(order: list[Observation]) -> set[frozenset[str]]:
        f = fuser(city)
        for o in order:
            f.apply(o)
        for o in order:  # replaying everything a second time changes nothing
            assert f.apply(o).changed is False
        return {frozenset(i.evidence_ids) for i in f.incidents.values()}

    shuffled = list(observations)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert grouping(observations) == grouping(shuffled)
