from __future__ import annotations

import difflib
import inspect
import re
from collections import Counter

import numpy as np
import pytest

from citybrain.config.simulator import SimulatorSettings
from citybrain.core.city import City
from citybrain.core.geo import metres_between
from citybrain.sim import Simulation, phrases, pii, simulate
from citybrain.sim.pii import id_number
from citybrain.sim.tickets import clean_keywords, misspell, typo

from .conftest import (
    START,
    keyword_in,
    landmark_names,
    names_any_place,
    names_exact_place,
    street_names,
)

_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)0\d{3}-\d{7,8}(?!\d)")
_US = re.compile(r"\(\d{3}\) \d{3}-\d{4}")
_ID = re.compile(r"(?<!\d)\d{17}[\dX](?!\d)")
_NAME = re.compile(
    r"(?i)my name is [A-Z][a-z]+ [A-Z][a-z]+|this is [A-Z][a-z]+ [A-Z][a-z]+|我叫|我是|[\u4e00-\u9fa5](?:先生|女士)"
)


@pytest.fixture(scope="module")
def many(city: City, sim_settings: SimulatorSettings) -> list[Simulation]:
    """Several seeds, so the properties are not luck of one draw."""
    return [simulate(city, sim_settings.model_copy(update={"seed": s}), START) for s in range(25)]


def _event_tickets(sim: Simulation):  # type: ignore[no-untyped-def]
    return [t for t in sim.tickets if t.event_id is not None]


def test_ids_order_and_fields(sim: Simulation) -> None:
    ids = [t.ticket.ticket_id for t in sim.tickets]
    assert ids == [f"T-{i:06d}" for i in range(1, len(ids) + 1)]
    times = [t.ticket.received_at for t in sim.tickets]
    assert times == sorted(times)
    for t in sim.tickets:
        assert t.ticket.channel in ("hotline", "app", "web")
        assert t.ticket.language in ("en", "zh")
        assert sim.scenario.start <= t.ticket.received_at < sim.scenario.end


def test_reported_events_get_one_to_four_tickets_within_their_span(many: list[Simulation]) -> None:
    for sim in many:
        counts = Counter(t.event_id for t in _event_tickets(sim))
        for e in sim.scenario.events:
            if e.reported:
                assert 1 <= counts[e.id] <= 4
            else:
                assert counts[e.id] == 0
        for t in _event_tickets(sim):
            e = sim.scenario.event_by_id(t.event_id)  # type: ignore[arg-type]
            assert e.starts_at <= t.ticket.received_at < e.ends_at


def test_unrelated_ticket_count(sim: Simulation, sim_settings: SimulatorSettings) -> None:
    assert sum(t.event_id is None for t in sim.tickets) == sim_settings.unrelated_tickets


def test_every_reported_event_has_a_ticket_with_its_exact_place(
    city: City, many: list[Simulation]
) -> None:
    for sim in many:
        for e in sim.scenario.events:
            if not e.reported:
                continue
            ts = [t for t in sim.tickets if t.event_id == e.id]
            assert any(
                names_exact_place(city, e, t.ticket.text) or t.ticket.location is not None
                for t in ts
            ), e


def test_place_flags_match_the_text(city: City, many: list[Simulation]) -> None:
    for sim in many:
        for t in _event_tickets(sim):
            e = sim.scenario.event_by_id(t.event_id)  # type: ignore[arg-type]
            if t.names_place:
                assert names_exact_place(city, e, t.ticket.text), t.ticket.text
            if t.ticket.address and not t.vague:
                assert names_exact_place(city, e, t.ticket.address), t.ticket.address


def test_vague_tickets_name_only_the_district(city: City, many: list[Simulation]) -> None:
    vague = 0
    total = 0
    for sim in many:
        for t in _event_tickets(sim):
            total += 1
            if not t.vague:
                continue
            vague += 1
            e = sim.scenario.event_by_id(t.event_id)  # type: ignore[arg-type]
            d = city.district_by_id[e.district]
            text = t.ticket.text
            assert (f"{d.name} district" in text) or (d.name_zh in text), text
            assert t.ticket.location is None
            stripped = text.replace(f"{d.name} district", "").replace(d.name_zh, "")
            assert not names_any_place(city, stripped), text
    assert 0.05 <= vague / total <= 0.2


def test_app_points_are_within_30_m(many: list[Simulation]) -> None:
    located = 0
    for sim in many:
        for t in _event_tickets(sim):
            if t.ticket.location is None:
                continue
            located += 1
            assert t.ticket.channel == "app"
            e = sim.scenario.event_by_id(t.event_id)  # type: ignore[arg-type]
            assert (
                metres_between(t.ticket.location.lon, t.ticket.location.lat, e.lon, e.lat) <= 30.0
            )
    assert located > 0


def test_own_keyword_verbatim_and_no_other_categorys(city: City, many: list[Simulation]) -> None:
    keywords = {c.id: (*c.keywords_en, *c.keywords_zh) for c in city.categories}
    for sim in many:
        for t in _event_tickets(sim):
            e = sim.scenario.event_by_id(t.event_id)  # type: ignore[arg-type]
            text = t.ticket.text
            assert t.keyword in keywords[e.category]
            assert t.keyword in text  # verbatim, same case
            assert keyword_in(text, t.keyword)
            for cat, kws in keywords.items():
                if cat != e.category:
                    assert not any(keyword_in(text, k) for k in kws), (cat, text)


def test_keywords_that_contain_another_category_are_avoided(city: City) -> None:
    assert "blocking the fire lane" not in clean_keywords(city, "illegal_parking", "en")
    assert "illegal parking" in clean_keywords(city, "illegal_parking", "en")
    assert clean_keywords(city, "noise", "zh") == city.category_by_id["noise"].keywords_zh


def test_unrelated_tickets_have_no_keyword_and_no_place(city: City, many: list[Simulation]) -> None:
    keywords = [k for c in city.categories for k in (*c.keywords_en, *c.keywords_zh)]
    seen = 0
    for sim in many:
        for t in sim.tickets:
            if t.event_id is not None:
                continue
            seen += 1
            assert not any(keyword_in(t.ticket.text, k) for k in keywords), t.ticket.text
            assert not names_any_place(city, t.ticket.text), t.ticket.text
            assert t.ticket.location is None and t.ticket.address is None
    assert seen > 0


def test_languages_are_mixed(many: list[Simulation]) -> None:
    langs = Counter(t.ticket.language for sim in many for t in sim.tickets)
    zh_share = langs["zh"] / (langs["zh"] + langs["en"])
    assert 0.35 <= zh_share <= 0.65
    for sim in many:
        for t in sim.tickets:
            has_han = re.search(r"[\u4e00-\u9fa5]", t.ticket.text) is not None
            assert has_han == (t.ticket.language == "zh")


def test_personal_data_appears(many: list[Simulation]) -> None:
    texts = [t.ticket.text for sim in many for t in sim.tickets]
    for pattern in (_MOBILE, _LANDLINE, _US, _ID, _NAME):
        hits = sum(bool(pattern.search(x)) for x in texts)
        assert hits >= 5, pattern.pattern
    with_pii = sum(any(p.search(x) for p in (_MOBILE, _LANDLINE, _US, _ID)) for x in texts)
    assert 0.4 <= with_pii / len(texts) <= 0.85


def test_id_numbers_have_valid_check_characters() -> None:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = id_number(rng)
        assert len(n) == 18 and n[:17].isdigit()
        total = sum(int(c) * w for c, w in zip(n[:17], weights, strict=True))
        assert n[17] == "10X98765432"[total % 11]


def test_aliases_and_typos_appear(city: City, many: list[Simulation]) -> None:
    aliases = [a for s in city.streets for a in s.aliases if not a.endswith(" Rd")]
    en = [t.ticket.text for sim in many for t in sim.tickets if t.ticket.language == "en"]
    assert any(any(a in x for a in aliases) for x in en)
    assert any(" Rd" in x for x in en)
    # every word the generator can write; anything else in a ticket is a typo of one of them
    sources = inspect.getsource(phrases) + inspect.getsource(pii)
    names = " ".join(
        n for group in (*street_names(city).values(), *landmark_names(city).values()) for n in group
    )
    names += " " + " ".join(d.name for d in city.districts)
    vocabulary = set(re.findall(r"[A-Za-z]+", sources + " " + names))
    unknown = {w for x in en for w in re.findall(r"[A-Za-z]+", x) if w not in vocabulary}
    assert len(unknown) >= 10
    assert all(difflib.get_close_matches(w, vocabulary, n=1, cutoff=0.7) for w in unknown), unknown


def test_typo_changes_only_ordinary_words() -> None:
    rng = np.random.default_rng(3)
    template = "Hello, please {clause} {place} right now, everything everywhere {pii}"
    outs = {misspell(template, rng) for _ in range(200)}
    assert len(outs) > 1
    for out in outs:
        assert "{clause}" in out and "{place}" in out and "{pii}" in out
        changed = sum(a != b for a, b in zip(out.split(), template.split(), strict=False))
        assert changed <= 2 or len(out.split()) != len(template.split())
    for word in ("pavement", "building", "there"):
        assert typo(word, rng) != word or len(set(word)) < len(word)


def test_same_seed_same_tickets(city: City, sim_settings: SimulatorSettings) -> None:
    a = simulate(city, sim_settings, START).tickets
    b = simulate(city, sim_settings, START).tickets
    assert a == b
    other = simulate(city, sim_settings.model_copy(update={"seed": sim_settings.seed + 1}), START)
    assert [t.ticket.text for t in other.tickets] != [t.ticket.text for t in a]
