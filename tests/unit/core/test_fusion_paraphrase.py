"""A ticket with no category joins the open incident whose reports it paraphrases, in the same
place and window, and nothing else: another matter, another place, too late, or no matcher."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from citybrain.config.incidents import IncidentSettings
from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.fusion import Fuser
from citybrain.core.messages import GeoPoint, Observation
from citybrain.text.paraphrase import ParaphraseMatcher

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
XINHUA_ZHONGSHAN = GeoPoint(lon=120.128, lat=30.287)  # xicheng
JIANSHE_RENMIN = GeoPoint(lon=120.155, lat=30.272)  # beicheng, ~2.9 km away
FLOODED = (
    "你好，新华路与中山路交叉口路面积水很深，车都过不去，水已经没过膝盖了，请尽快处理。[PHONE]"
)
PARAPHRASE = "新华路中山路口雨后路上的水没过了膝盖，车子泡在水里熄火了。[PHONE]"
OTHER_MATTER = "请问今年小学报名什么时候开始？[PHONE]"
BACKGROUND = [
    "您好，解放路路灯坏了，晚上一片漆黑，请尽快处理。[PHONE]",
    "你好，人民路有摊贩占了人行道，请尽快处理。",
    "反映一个问题：延安路噪音一直到凌晨两点，请尽快处理。[PHONE]",
]


def ticket(
    oid: str,
    text: str,
    category: str = UNCLASSIFIED,
    at: GeoPoint | None = XINHUA_ZHONGSHAN,
    district: str | None = "xicheng",
    minutes: float = 0,
) -> Observation:
    return Observation(
        id=oid,
        source="ticket",
        source_id=f"T-{oid}",
        category=category,
        confidence=0.9,
        observed_at=T0 + timedelta(minutes=minutes),
        location=at,
        district=district,
        precision="point" if at else "district",
        text=text,
    )


def fuser(city: City, matcher: bool = True, **kw: object) -> Fuser:
    kw.setdefault("paraphrase_similarity", 0.2)  # off by default (docs/QUALITY.md)
    f = Fuser(city, IncidentSettings(**kw), matcher=ParaphraseMatcher() if matcher else None)
    # other reports elsewhere in the city: what makes the greetings common words
    for i, text in enumerate(BACKGROUND):
        f.apply(ticket(f"bg{i}", text, "noise", at=JIANSHE_RENMIN, district="beicheng"))
    return f


def test_a_paraphrase_joins_the_incident_it_describes(city: City) -> None:
    f = fuser(city)
    first = f.apply(ticket("a", FLOODED, "flooding"))
    r = f.apply(ticket("b", PARAPHRASE, minutes=20))
    assert (r.created, r.note) == (False, "paraphrase")
    assert r.incident is not None and r.incident.id == first.incident.id  # type: ignore[union-attr]
    assert r.incident.category == "flooding"  # the incident keeps its category
    assert r.incident.evidence_ids[-1] == "b"


def test_another_matter_at_the_same_place_stays_alone(city: City) -> None:
    f = fuser(city)
    f.apply(ticket("a", FLOODED, "flooding"))
    r = f.apply(ticket("b", OTHER_MATTER, minutes=5))
    assert r.created and r.incident is not None and r.incident.category == UNCLASSIFIED


def test_the_paraphrase_must_be_in_the_same_place_and_window(city: City) -> None:
    f = fuser(city, window_s=3600)
    f.apply(ticket("a", FLOODED, "flooding"))
    far = f.apply(ticket("b", PARAPHRASE, at=JIANSHE_RENMIN, district="beicheng", minutes=5))
    late = f.apply(ticket("c", PARAPHRASE, minutes=200))
    assert far.created and late.created


def test_without_a_matcher_or_threshold_nothing_joins_by_words(city: City) -> None:
    assert IncidentSettings().paraphrase_similarity is None  # the default: off
    for f in (fuser(city, matcher=False), fuser(city, paraphrase_similarity=None)):
        f.apply(ticket("a", FLOODED, "flooding"))
        assert f.apply(ticket("b", PARAPHRASE, minutes=5)).created


def test_a_restart_that_reloads_the_texts_joins_the_same(city: City) -> None:
    f = fuser(city)
    f.apply(ticket("a", FLOODED, "flooding"))
    texts = {"a": FLOODED, **{f"bg{i}": t for i, t in enumerate(BACKGROUND)}}
    again = Fuser(city, IncidentSettings(paraphrase_similarity=0.2), matcher=ParaphraseMatcher())
    again.load(list(f.incidents.values()), texts)
    want = f.apply(ticket("b", PARAPHRASE, minutes=20))
    got = again.apply(ticket("b", PARAPHRASE, minutes=20))
    assert (got.note, got.incident.id) == (want.note, want.incident.id)  # type: ignore[union-attr]


def test_common_words_weigh_little_and_forgotten_reports_leave_the_counts() -> None:
    m = ParaphraseMatcher()
    for i, text in enumerate([*BACKGROUND, FLOODED]):
        m.add(str(i), text)
    greeting = m.score("你好，请尽快处理。", ["3"])
    matter = m.score("路面积水很深，车都过不去", ["3"])
    assert matter > 2 * greeting
    assert m.score(PARAPHRASE, ["unknown"]) == 0.0
    for i in range(4):
        m.drop(str(i))
    assert len(m) == 0 and m.score(PARAPHRASE, ["3"]) == 0.0


def test_empty_oversized_and_odd_texts_score_without_error() -> None:
    m = ParaphraseMatcher()
    m.add("big", "积水" * 500_000)  # a 1 MB report is read to its first MAX_CHARS
    m.add("odd", "\x00\ufffd[PHONE] [NAME] 🚧🚧 ")
    m.add("blank", "")
    assert sum(m._docs["big"].values()) < 10_000  # bounded, not a million grams
    assert 0.0 < m.score("路面积水", ["big"]) <= 1.0
    assert m.score("", ["big", "odd", "blank"]) == 0.0
    assert m.score("[PHONE]", ["odd"]) == 0.0  # redaction tokens say nothing
