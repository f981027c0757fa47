from __future__ import annotations

from datetime import UTC, datetime

from citybrain.core.city import City
from citybrain.core.facts import EvidenceItem, key_facts, localized_template
from citybrain.core.incident import Incident

T = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)


def _incident() -> Incident:
    return Incident(
        id="i1", category="flooding", district="xicheng", location=None,
        opened_at=T, updated_at=T, ticket_count=2, camera_count=0, severity="high",
    )  # fmt: skip


def test_key_facts_gather_named_places(city: City) -> None:
    cam = city.cameras[0]
    ev = [
        EvidenceItem("ticket", "t1", "Water on Heping Road"),
        EvidenceItem("ticket", "t2", None),
        EvidenceItem("camera", cam.id),
    ]
    facts = key_facts(city, _incident(), ev)
    assert {"Heping Road", "Xicheng", cam.name} <= set(facts.places)
    assert facts.ticket_count == 2 and facts.district_name == "Xicheng"


def test_template_in_both_languages(city: City) -> None:
    en = localized_template(city, _incident(), "en")
    zh = localized_template(city, _incident(), "zh")
    assert "2 citizen reports" in en and en.endswith("[template]")
    assert "西城" in zh and "市民反映2件" in zh and zh.endswith("[模板]")


def test_a_chinese_summary_never_shows_the_unclassified_id(city: City) -> None:
    """The demo's Chinese facts read "位置不明unclassified" for a ticket of no category."""
    from dataclasses import replace

    inc = replace(_incident(), category="unclassified", district=None)
    zh = localized_template(city, inc, "zh")
    assert "unclassified" not in zh and zh.startswith("位置不明未分类问题")
