"""Claim-by-claim grounding: what a model adds to the rule-written facts must be in the
reports. Each bad case here is one a small model really wrote (docs/QUALITY.md) or its
Chinese counterpart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from citybrain.core.city import City
from citybrain.core.facts import (
    EvidenceItem,
    compose_summary,
    facts_line,
    key_facts,
    split_reported,
    whole_sentences,
)
from citybrain.core.grounding import incident_language, question_problems, text_language
from citybrain.core.guards import INVENTED, problem_kind, summary_problems
from citybrain.core.incident import Incident

T = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
EN = [
    "Heping Road underpass is flooded, water 40 cm deep, cars cannot get through",
    "The underpass on Heping Road is full of water again",
    "Flooded underpass, Heping Rd, my shoes are soaked",
]
ZH = [
    "和平路地下通道积水很深，车辆无法通行，已经两天了",
    "和平路地下通道又积水了，行人只能绕行",
]
QUESTION = ["居住证续签需要带什么材料？在哪里办理？"]
SCHOOL_ZH = ["请问今年小学什么时候开始报名？"]
SCHOOL_EN = ["When does registration for primary school open this year?"]


def incident(texts: list[str], category: str = "flooding") -> tuple[Incident, list[str]]:
    inc = Incident(
        id="i", category=category, district="xicheng", location=None,
        opened_at=T, updated_at=T, ticket_count=len(texts), camera_count=1,
    )  # fmt: skip
    return inc, texts


def problems(city: City, texts: list[str], reported: str, lang: str, category: str = "flooding"):
    inc, _ = incident(texts, category)
    facts = key_facts(city, inc, [EvidenceItem("ticket", f"t{i}", t) for i, t in enumerate(texts)])
    text = compose_summary(facts_line(city, inc, lang), reported, lang)
    return summary_problems(city, text, facts, texts, lang)


def kinds(found: list[str]) -> set[str]:
    return {problem_kind(p) for p in found}


@pytest.mark.parametrize(
    ("texts", "reported", "lang"),
    [
        (
            EN,
            "The Heping Road underpass is flooded, water 40 cm deep, cars cannot get through.",
            "en",
        ),
        (EN, "Underpass full of water again; cars cannot get through.", "en"),
        (ZH, "和平路地下通道积水很深，车辆无法通行，行人只能绕行。", "zh"),
        (ZH, "地下通道又积水了，车辆无法通行。", "zh"),
        (QUESTION, "市民询问居住证续签需要带什么材料、在哪里办理。", "zh"),
        # the shape the question prompt asks for
        (SCHOOL_ZH, "市民询问今年小学什么时候开始报名。", "zh"),
        (SCHOOL_EN, "Residents ask when primary school registration opens this year.", "en"),
        # a Latin word a Chinese report itself uses
        (["小区门口的APP停车缴费扫不了码。"], "小区门口APP停车缴费扫不了码。", "zh"),
        # a request for someone to be sent, reported as a request
        (
            ["The underpass is flooded again. Please send someone to deal with it."],
            "The underpass is flooded again, please send someone to deal with it.",
            "en",
        ),
    ],
)
def test_faithful_additions_pass(city: City, texts: list[str], reported: str, lang: str) -> None:
    assert (
        problems(city, texts, reported, lang, "flooding" if texts in (EN, ZH) else "unclassified")
        == []
    )


@pytest.mark.parametrize(
    ("texts", "reported", "lang", "kind"),
    [
        # casualties, injuries, deaths, arrests, damage not in the evidence
        (EN, "The underpass is flooded with 3 reported fatalities.", "en", "harm"),
        (EN, "The underpass is flooded and a driver was injured.", "en", "harm"),
        (EN, "Police arrested a driver at the flooded underpass.", "en", "harm"),
        (EN, "The flood damaged cars in the underpass.", "en", "harm"),
        (ZH, "和平路地下通道积水，造成2人死亡。", "zh", "harm"),
        (ZH, "地下通道积水，有行人受伤。", "zh", "harm"),
        # a number bound to another noun than in the evidence
        (EN, "3 fatalities at the underpass.", "en", "number_noun"),
        (EN, "Water 40 cars deep in the underpass.", "en", "number_noun"),
        (ZH, "地下通道积水，40辆车被淹。", "zh", "number_noun"),
        # causes, outcomes, policies, resolutions not in the evidence
        (EN, "The flooding in the underpass is resolved.", "en", "outcome"),
        (EN, "The city has implemented a new policy for the underpass.", "en", "outcome"),
        (EN, "The underpass flooded because the drains are blocked.", "en", "outcome"),
        (EN, "Residents are advised to avoid the underpass.", "en", "outcome"),
        # what the demo's model wrote: a cause the reports do not give
        (EN, "Flooding in Xicheng causes waterlogged lanes in the underpass.", "en", "outcome"),
        (ZH, "地下通道积水问题已解决。", "zh", "outcome"),
        (ZH, "由于排水管道堵塞，地下通道积水。", "zh", "outcome"),
        (ZH, "政府出台新政策治理积水。", "zh", "outcome"),
        # a status no report gives (the demo's model wrote both)
        (
            ["When does registration for primary school open this year?"],
            "Registration for primary school opens this year is unknown.",
            "en",
            "outcome",
        ),
        (EN, "Cars cannot get through the underpass, not fixed yet.", "en", "outcome"),
        # the demo's model said a lost dog was found (the letter asks anyone who sees it)
        (
            ["我家的小狗走丢了，棕色泰迪，名字叫豆豆，有看到的请联系我。"],
            "小狗走丢了，棕色泰迪，豆豆被发现。",
            "zh",
            "outcome",
        ),
        (["I lost my dog, a small brown poodle."], "A lost poodle was found.", "en", "outcome"),
        # a request to send someone turned into someone sent (a demo's fallen tree)
        (
            ["Hello, a broken branch is hanging over the lanes. Please send someone."],
            "A broken branch hangs over the lanes, and a resident has been sent to deal with it.",
            "en",
            "outcome",
        ),
        (["地下通道积水，请马上派人。"], "地下通道积水，已派人处理。", "zh", "outcome"),
        # a Chinese summary mixing in an English report's words (a demo's flooding)
        (
            ["Please help, there is serious flooding at Xinhua Road!", "新华路整条路都被淹了。"],
            "Flooding和Xicheng交叉口被淹的情况",
            "zh",
            "language",
        ),
        # the demo's model turned "没人管" into "有人管"
        ([*ZH, "地下通道积水一直没人管"], "地下通道积水，有人管。", "zh", "outcome"),
        # geography beyond the city's own names
        (
            EN,
            "Xicheng, a city in the southwest of China, has a flooded underpass.",
            "en",
            "geography",
        ),
        (
            EN,
            "Reported by citizens from all over the world: the underpass is flooded.",
            "en",
            "geography",
        ),
        (ZH, "中国西南部的地下通道积水。", "zh", "geography"),
        # first person, letter form, the reader addressed
        (EN, "Hi, I'm writing about the flooded underpass.", "en", "first_person"),
        (EN, "You can avoid the flooded underpass.", "en", "first_person"),
        (ZH, "您好，我家门口的地下通道积水。", "zh", "first_person"),
        # placeholders and template tokens
        (EN, "Hi, I'm [Your Name] and the underpass is flooded.", "en", "placeholder"),
        (EN, "The [city_name] underpass is flooded since [first_utc].", "en", "placeholder"),
        (EN, "The underpass is flooded, see [LINK].", "en", "placeholder"),
        (EN, "The underpass is flooded, call [PHONE].", "en", "placeholder"),
        (ZH, "地下通道积水，联系人【姓名】。", "zh", "placeholder"),
        # URLs
        (EN, "The underpass is flooded, see www.example.com/flood.", "en", "url"),
        (EN, "The underpass is flooded: https://city.example/report", "en", "url"),
        # only a date, only the template
        (EN, "The 2026-11-23 08:30", "en", "no_content"),
        (EN, "Flooding at Heping Road (Xicheng): 3 citizen reports.", "en", "no_content"),
        (ZH, "西城区道路积水：市民反映2件。", "zh", "no_content"),
        # a claim the reports do not make (a question answered)
        (QUESTION, "续签居住证需要携带身份证、照片和租房合同，到派出所办理。", "zh", "ungrounded"),
        (EN, "The underpass is flooded and the traffic lights are broken.", "en", "ungrounded"),
        # the wrong language
        (ZH, "The Heping Road underpass is flooded, cars cannot get through.", "zh", "language"),
        (EN, "和平路地下通道积水很深，车辆无法通行。", "en", "language"),
    ],
)
def test_inventions_are_caught(
    city: City, texts: list[str], reported: str, lang: str, kind: str
) -> None:
    found = problems(
        city, texts, reported, lang, "flooding" if texts in (EN, ZH) else "unclassified"
    )
    assert kind in kinds(found), found


def test_what_the_evidence_says_is_allowed(city: City) -> None:
    """Harm, numbers and causes a resident wrote are evidence, not invention."""
    texts = ["A tree fell on Heping Road and damaged 2 cars, because of the storm"]
    reported = "A tree fell on Heping Road and damaged 2 cars, because of the storm."
    assert problems(city, texts, reported, "en", "fallen_tree") == []


def test_the_rule_written_facts_pass_and_split_back(city: City) -> None:
    inc, _ = incident(EN)
    text = compose_summary(facts_line(city, inc, "en"), "Underpass full of water again.", "en")
    head, reported = split_reported(text)
    assert reported == "Underpass full of water again." and "3 citizen reports" in head
    assert split_reported("plain text") == ("plain text", None)


def test_invented_kinds_are_the_ones_counted() -> None:
    assert {"harm", "outcome", "geography", "number_noun", "ungrounded"} <= INVENTED
    assert "language" not in INVENTED and "placeholder" not in INVENTED


def test_the_summary_language_follows_the_tickets() -> None:
    assert text_language(["和平路积水"]) == "zh"
    assert text_language(["Heping Road flooded"]) == "en"
    assert text_language(["12345"]) is None
    assert incident_language(ZH + EN[:1], "en") == "zh"
    assert incident_language(EN, "zh") == "en"
    assert incident_language([], "zh") == "zh"
    assert incident_language(["和平路 Heping Road underpass flooded badly"], "zh") == "en"


def test_what_the_mark_already_says_is_not_repeated(city: City) -> None:
    inc, _ = incident(EN)
    head = facts_line(city, inc, "en")
    text = compose_summary(head, "Residents report that the underpass is full of water.", "en")
    assert text.endswith("Residents report: The underpass is full of water.")
    zh = compose_summary(facts_line(city, inc, "zh"), "市民反映和平路地下通道积水。", "zh")
    assert zh.endswith("市民反映内容：和平路地下通道积水。")
    zh = compose_summary(facts_line(city, inc, "zh"), "市民反映了和平路地下通道积水。", "zh")
    assert zh.endswith("市民反映内容：和平路地下通道积水。")


@pytest.mark.parametrize(
    ("reported", "reports", "rejected"),
    [
        # the demo's model answered residents' questions with a status nobody gave
        (
            "The primary school registration is currently open.",
            ["When does registration for primary school open this year?"],
            True,
        ),
        (
            "Registration for primary school is expected to open this year.",
            ["When does registration for primary school open this year?"],
            True,
        ),
        ("居住证续签已经开始办理。", ["请问居住证续签需要带什么材料？"], True),
        # reporting the question is what a summary should do
        (
            "A resident asks when primary school registration opens.",
            ["When does registration for primary school open this year?"],
            False,
        ),
        ("居住证续签需要带什么材料？", ["请问居住证续签需要带什么材料？"], False),
        ("市民询问居住证续签所需材料。", ["请问居住证续签需要带什么材料？"], False),
        # a report that is no question: no constraint
        ("水费比平时高了三倍。", ["这个月水费比平时高了三倍，请帮忙查一下。"], False),
        ("Flooding covers all lanes.", ["Please help, a flood is covering all the lanes!"], False),
    ],
)
def test_a_residents_question_is_reported_not_answered(
    reported: str, reports: list[str], rejected: bool
) -> None:
    assert bool(question_problems(reported, reports)) is rejected


@pytest.mark.parametrize(
    ("answer", "kept"),
    [
        # cut off by the token limit: the unfinished tail goes
        (
            "Music is too loud at Xinhua Road. They have been like this,",
            "Music is too loud at Xinhua Road.",
        ),
        ("垃圾满了，味道很大。请派人", "垃圾满了，味道很大。"),
        # one clause without a full stop, or a decimal point, is not a cut
        ("小狗丢了，棕色泰迪", "小狗丢了，棕色泰迪"),
        ("The water is 3.5 metres deep", "The water is 3.5 metres deep"),
        ("The underpass is flooded.", "The underpass is flooded."),
    ],
)
def test_a_model_answer_cut_off_keeps_its_whole_sentences(answer: str, kept: str) -> None:
    assert whole_sentences(answer) == kept
