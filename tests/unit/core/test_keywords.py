import pytest

from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.keywords import KeywordClassifier


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("The road is flooded near the school", "flooding"),
        ("新华路积水严重，车辆无法通行", "flooding"),
        ("There is a big pothole in the right lane", "pothole"),
        ("垃圾桶满了，垃圾溢出到人行道", "overflowing_bin"),
        ("Smoke coming out of the shop, maybe a fire", "smoke_fire"),
        ("A fallen tree is blocking the road", "fallen_tree"),
        ("有车违停在消防通道", "illegal_parking"),
        ("占道施工没有围挡", "road_construction"),
        ("Loud music and noise every night", "noise"),
        ("路灯不亮好几天了", "streetlight_out"),
        ("Street vendors block the pavement", "illegal_vending"),
    ],
)
def test_keywords_pick_the_category(city: City, text: str, category: str) -> None:
    c = KeywordClassifier(city).classify(text)
    assert c.category == category
    assert c.matched
    assert 0 < c.confidence <= 0.95


def test_no_keyword_is_unclassified(city: City) -> None:
    c = KeywordClassifier(city).classify("When does the tax office open on Saturdays?")
    assert c.category == UNCLASSIFIED
    assert c.confidence == 0.0


def test_keywords_need_word_boundaries(city: City) -> None:
    # 'fire' inside 'firefly' or 'smoke' inside 'smokers' must not count as a fire report.
    c = KeywordClassifier(city).classify("We saw a firefly")
    assert c.category == UNCLASSIFIED


def test_exact_tie_is_not_guessed(city: City) -> None:
    c = KeywordClassifier(city).classify("noise and smoke")  # both 5 characters
    assert c.category == UNCLASSIFIED
    assert set(c.matched) == {"noise", "smoke"}
