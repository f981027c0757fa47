"""Reports that say their problem without a category keyword: none of their words is a keyword
of any category, and a run without them is the run it was before they existed."""

from __future__ import annotations

from citybrain.config.simulator import SimulatorSettings
from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.keywords import KeywordClassifier
from citybrain.sim import phrases, simulate

from .conftest import START


def test_no_paraphrase_holds_a_keyword(city: City) -> None:
    kc = KeywordClassifier(city)
    for table in (phrases.PARAPHRASES_EN, phrases.PARAPHRASES_ZH):
        assert set(table) == {c.id for c in city.categories}
        for clauses in table.values():
            for clause in clauses:
                assert kc.classify(clause).category == UNCLASSIFIED, clause


def test_paraphrased_reports_carry_no_keyword_and_share_zero_changes_nothing(
    city: City, sim_settings: SimulatorSettings
) -> None:
    kc = KeywordClassifier(city)
    plain = simulate(city, sim_settings.model_copy(update={"seed": 3}), START)
    zero = simulate(
        city, sim_settings.model_copy(update={"seed": 3, "paraphrase_share": 0.0}), START
    )
    assert [t.ticket for t in plain.tickets] == [t.ticket for t in zero.tickets]
    some = simulate(
        city, sim_settings.model_copy(update={"seed": 3, "paraphrase_share": 0.5}), START
    )
    reworded = [t for t in some.tickets if t.event_id is not None and t.keyword is None]
    assert reworded
    for t in reworded:
        assert kc.classify(t.ticket.text).category == UNCLASSIFIED, t.ticket.text
    # every reported event keeps one report with its keyword
    events = {t.event_id for t in some.tickets if t.event_id}
    assert events == {t.event_id for t in some.tickets if t.event_id and t.keyword}
