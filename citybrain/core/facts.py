"""The key facts of an incident, and its template summary in the dispatcher's language.

Facts are computed, never generated: they are what a model's summary is checked against and
what the dispatcher sees beside it as structured fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.incident import Incident
from citybrain.core.messages import KeyFacts
from citybrain.core.summary import TEMPLATE_MARKS, split_template_mark, template_summary


@dataclass(frozen=True)
class EvidenceItem:
    source: str  # camera | ticket
    source_id: str
    text: str | None = None


def place_names(city: City) -> dict[str, str]:
    """Every name of a place the city knows (lower-cased) -> its canonical English name."""
    out: dict[str, str] = {}
    for d in city.districts:
        out[d.name.lower()] = d.name
        out[d.name_zh] = d.name
    for s in city.streets:
        for n in (s.name, s.name_zh, *s.aliases):
            out[n.lower()] = s.name
    for lm in city.landmarks:
        for n in (lm.name, lm.name_zh, *lm.aliases):
            out[n.lower()] = lm.name
    return {k: v for k, v in out.items() if len(k) >= 2}


def mentioned_places(city: City, text: str) -> set[str]:
    low = text.lower()
    return {canon for name, canon in place_names(city).items() if name in low}


def key_facts(city: City, inc: Incident, evidence: list[EvidenceItem]) -> KeyFacts:
    cat = city.category_by_id.get(inc.category)
    district = city.district_by_id.get(inc.district or "")
    places: set[str] = set()
    for e in evidence:
        if e.text:
            places |= mentioned_places(city, e.text)
        cam = city.camera_by_id.get(e.source_id) if e.source == "camera" else None
        if cam is not None:
            places.add(cam.name)
    if district is not None:
        places.add(district.name)
    return KeyFacts(
        category=inc.category,
        category_name=cat.name if cat else inc.category.replace("_", " "),
        district=inc.district,
        district_name=district.name if district else None,
        status=inc.status,
        severity=inc.severity,
        ticket_count=inc.ticket_count,
        camera_count=inc.camera_count,
        first_seen=inc.opened_at,
        last_seen=inc.updated_at,
        places=tuple(sorted(places)),
    )


# what the Chinese facts call an incident of no taxonomy category (English: "Unclassified")
_ZH_NO_CATEGORY = {UNCLASSIFIED: "未分类问题"}


def localized_template(city: City, inc: Incident, language: str) -> str:
    """The deterministic summary, in English or Chinese."""
    if language != "zh":
        return template_summary(city, inc)
    cat = city.category_by_id.get(inc.category)
    what = cat.name_zh if cat else _ZH_NO_CATEGORY.get(inc.category, inc.category)
    district = city.district_by_id.get(inc.district or "")
    where = district.name_zh if district else "位置不明"
    parts = []
    if inc.ticket_count:
        parts.append(f"市民反映{inc.ticket_count}件")
    if inc.camera_count:
        parts.append(f"摄像头发现{inc.camera_count}次")
    span = f"首次发现于{inc.opened_at:%Y-%m-%d %H:%M}（UTC），最近{inc.updated_at:%H:%M}"
    return f"{where}{what}：{'，'.join(parts) or '暂无证据'}；{span}。{TEMPLATE_MARKS[1]}"


# What separates the rule-written facts from what the model adds, per language.
REPORTED_MARKS = {"en": " Residents report: ", "zh": "市民反映内容："}


def facts_line(city: City, inc: Incident, language: str) -> str:
    """The rule-written facts of a model summary: the template without its mark."""
    text, _ = split_template_mark(localized_template(city, inc, language))
    return text


# how a model tends to begin what the mark already says
_LEAD = re.compile(
    r"^(?:(?:the )?(?:residents?|citizens?) (?:report(?:s|ed)?|say|said|complain(?:s|ed)?)"
    r"(?: that)?[:,]?\s+|(?:市民|居民|群众)(?:反映|称|表示|投诉)了?(?:内容)?[：:，,]?)",
    re.IGNORECASE,
)


# a full stop, not the point of "3.5": ASCII marks count before a space, a quote or the end
_SENTENCE_END = re.compile(r"(?:[。！？…]|[.!?](?=[\s\"'”’)]|$))[\"'”’」』)）]*")


def whole_sentences(text: str) -> str:
    """A model answer cut off by its token limit ("..., it is a real nuisance. They have
    been like this,") loses its unfinished tail; one clause without a full stop is kept."""
    t = text.strip()
    ends = list(_SENTENCE_END.finditer(t))
    if not ends or ends[-1].end() == len(t):
        return t
    return t[: ends[-1].end()]


def compose_summary(facts_text: str, reported: str, language: str) -> str:
    """The facts by rule, then what the model adds about the reports (checked apart)."""
    mark = REPORTED_MARKS.get(language, REPORTED_MARKS["en"])
    said = _LEAD.sub("", reported.strip(), count=1)
    said = said[:1].upper() + said[1:] if said else said
    return f"{facts_text.rstrip()}{mark}{said}"


def split_reported(text: str) -> tuple[str, str | None]:
    """The facts part and the model's part of a composed summary (None: not composed)."""
    for mark in REPORTED_MARKS.values():
        if mark in text:
            head, _, tail = text.partition(mark)
            return head, tail
    return text, None
