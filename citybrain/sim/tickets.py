"""Citizen tickets about the simulated events, plus some about unrelated matters.

Tickets are deliberately messy the way real ones are (duplicates, two languages, typos,
street aliases, personal data, vague places) but always keep what the pipeline needs to be
scored fairly: each event ticket holds one of its category's keywords verbatim (but for the
`paraphrase_share` that say it in other words), and every reported event has at least one
ticket, with a keyword, naming its exact place or carrying a point.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from citybrain.config.simulator import SimulatorSettings
from citybrain.core.city import City
from citybrain.core.geo import offset_metres
from citybrain.core.messages import GeoPoint, Ticket
from citybrain.sim import phrases
from citybrain.sim.pii import contact_en, contact_zh
from citybrain.sim.scenario import Scenario, SimEvent

TICKETS_PER_EVENT = (1, 4)
VAGUE_SHARE = 1 / 8
PII_SHARE = 0.65
ALIAS_SHARE = 0.2
TYPO_SHARE = 0.08  # per ordinary English word, at most MAX_TYPOS per ticket
MAX_TYPOS = 2
JITTER_M = 29.0  # app points are within this of the event (under the 30 m promise)
CHANNELS = (("hotline", 0.45), ("app", 0.30), ("web", 0.25))
_TICKET_STREAM = 2  # sub-stream of the seed, independent of the scenario's draws
_PLACEHOLDER = re.compile(r"(\{[a-z]+\})")
_WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class SimTicket:
    """A generated ticket and what it is really about (event_id None: unrelated)."""

    ticket: Ticket
    event_id: str | None
    keyword: str | None
    vague: bool
    names_place: bool  # the text names the event's exact intersection or landmark


def matches_keyword(text: str, keyword: str) -> bool:
    """The keyword classifier's own rule: whole words for English (any case), substring for Chinese."""
    if keyword.isascii():
        return re.search(rf"(?i)\b{re.escape(keyword)}\b", text) is not None
    return keyword in text


def clean_keywords(city: City, category: str, language: str) -> tuple[str, ...]:
    """The category's keywords in one language that contain no other category's keyword
    (so 'blocking the fire lane' is never used: it also says 'fire'); all of them if none is."""
    cat = city.category_by_id[category]
    own = cat.keywords_en if language == "en" else cat.keywords_zh
    others = [
        kw for c in city.categories if c.id != category for kw in (*c.keywords_en, *c.keywords_zh)
    ]
    if not own:  # a category without keywords in this language: its name is the next best
        return (cat.name if language == "en" else cat.name_zh,)
    clean = tuple(k for k in own if not any(matches_keyword(k, o) for o in others))
    return clean or own


def typo(word: str, rng: np.random.Generator) -> str:
    """Swap two inner letters, drop one, or double one: the slips people make on phones."""
    i = int(rng.integers(1, len(word) - 1))
    kind = int(rng.integers(0, 3))
    if kind == 0 and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def misspell(template: str, rng: np.random.Generator) -> str:
    """Typos in the template's own words only; placeholders (place, keyword, PII) stay intact."""
    parts = _PLACEHOLDER.split(template)
    budget = MAX_TYPOS
    out = []
    for part in parts:
        if _PLACEHOLDER.fullmatch(part):
            out.append(part)
            continue

        def repl(m: re.Match[str]) -> str:
            nonlocal budget
            word = m.group(0)
            if budget > 0 and len(word) >= 4 and rng.random() < TYPO_SHARE:
                budget -= 1
                return typo(word, rng)
            return word

        out.append(_WORD.sub(repl, part))
    return "".join(out)


def _pick(options: tuple[str, ...] | list[str], rng: np.random.Generator) -> str:
    return options[int(rng.integers(0, len(options)))]


def _fill(template: str, **values: str) -> str:
    text = template
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return re.sub(r"\s{2,}", " ", text).strip()


class _Namer:
    """Words for streets, landmarks and districts, with the aliases people use."""

    def __init__(self, city: City, rng: np.random.Generator) -> None:
        self.city = city
        self.rng = rng
        self.streets = {s.name: s for s in city.streets}
        self.landmarks = {lm.name: lm for lm in city.landmarks}

    def street(self, name: str, language: str) -> str:
        s = self.streets[name]
        if language == "zh":
            return s.name_zh
        if s.aliases and self.rng.random() < ALIAS_SHARE:
            return _pick(s.aliases, self.rng)
        return s.name

    def landmark(self, name: str, language: str) -> str:
        lm = self.landmarks[name]
        if language == "zh":
            return lm.name_zh
        if lm.aliases and self.rng.random() < ALIAS_SHARE:
            return _pick(lm.aliases, self.rng)
        return lm.name

    def place(self, ev: SimEvent, language: str, for_address: bool = False) -> str:
        """The event's exact place as a phrase (or as an address line)."""
        if ev.landmark is not None:
            name = self.landmark(ev.landmark, language)
            if for_address:
                return name
            return _fill(
                _pick(phrases.LANDMARK_EN if language == "en" else phrases.LANDMARK_ZH, self.rng),
                l=name,
            )
        a, b = (self.street(s, language) for s in ev.streets)
        if for_address:
            forms = (
                phrases.ADDRESS_INTERSECTION_EN
                if language == "en"
                else phrases.ADDRESS_INTERSECTION_ZH
            )
        else:
            forms = phrases.INTERSECTION_EN if language == "en" else phrases.INTERSECTION_ZH
        return _fill(_pick(forms, self.rng), a=a, b=b)

    def district(self, district_id: str, language: str, for_address: bool = False) -> str:
        d = self.city.district_by_id[district_id]
        if for_address:
            return f"{d.name} District" if language == "en" else d.name_zh
        forms = phrases.DISTRICT_EN if language == "en" else phrases.DISTRICT_ZH
        return _fill(_pick(forms, self.rng), d=d.name if language == "en" else d.name_zh)


def _channel(rng: np.random.Generator) -> str:
    r = rng.random()
    for name, share in CHANNELS:
        if r < share:
            return name
        r -= share
    return CHANNELS[-1][0]


def _jittered(ev: SimEvent, rng: np.random.Generator) -> GeoPoint:
    r = JITTER_M * math.sqrt(rng.random())
    a = rng.uniform(0, 2 * math.pi)
    lon, lat = offset_metres(ev.lon, ev.lat, r * math.cos(a), r * math.sin(a))
    return GeoPoint(lon=round(lon, 7), lat=round(lat, 7))


@dataclass
class _Draft:
    at_ms: int
    order: int
    text: str
    language: str
    channel: str
    event_id: str | None
    keyword: str | None
    vague: bool
    names_place: bool
    location: GeoPoint | None = None
    address: str | None = None


def _event_drafts(
    city: City,
    ev: SimEvent,
    start_ms: int,
    rng: np.random.Generator,
    namer: _Namer,
    order: int,
    paraphrase_share: float = 0.0,
) -> list[_Draft]:
    n = int(rng.integers(TICKETS_PER_EVENT[0], TICKETS_PER_EVENT[1] + 1))
    begin = round(ev.starts_at.timestamp() * 1000) - start_ms
    span = max(1, round((ev.ends_at - ev.starts_at).total_seconds() * 1000))
    vague = [bool(rng.random() < VAGUE_SHARE) for _ in range(n)]
    anchor = int(rng.integers(0, n))  # always names the exact place in its text
    vague[anchor] = False
    frames = {
        "en": [phrases.FRAMES_EN[int(i)] for i in rng.permutation(len(phrases.FRAMES_EN))],
        "zh": [phrases.FRAMES_ZH[int(i)] for i in rng.permutation(len(phrases.FRAMES_ZH))],
    }
    kws = {lang: list(clean_keywords(city, ev.category, lang)) for lang in ("en", "zh")}
    for lang in kws:
        kws[lang] = [kws[lang][int(i)] for i in rng.permutation(len(kws[lang]))]
    out = []
    for j in range(n):
        lang = "zh" if rng.random() < 0.5 else "en"
        at = begin + int(span * (j + rng.random()) / n)  # one per slice: spread over the span
        channel = _channel(rng)
        keyword: str | None = kws[lang][j % len(kws[lang])]
        clause = _pick(phrases.clauses(kws[lang][j % len(kws[lang])], lang), rng)
        # (no draw at share 0, so runs without paraphrases stay as they were)
        other_words = phrases.paraphrases(ev.category, lang)
        if j != anchor and other_words and paraphrase_share > 0 and rng.random() < paraphrase_share:
            keyword, clause = None, _pick(other_words, rng)
        frame = frames[lang][j % len(frames[lang])]
        location = None
        address = None
        in_text = True
        if vague[j]:
            place = namer.district(ev.district, lang)
            if channel == "web" or rng.random() < 0.3:
                address = namer.district(ev.district, lang, for_address=True)
        else:
            if channel == "app" and rng.random() < 0.75:
                location = _jittered(ev, rng)
                in_text = j == anchor or rng.random() < 0.5
            elif channel == "web":
                address = namer.place(ev, lang, for_address=True)
                in_text = j == anchor or rng.random() < 0.5
            elif rng.random() < 0.3:
                address = namer.place(ev, lang, for_address=True)
            place = (
                namer.place(ev, lang)
                if in_text
                else _pick(phrases.HERE_EN if lang == "en" else phrases.HERE_ZH, rng)
            )
        pii = ""
        if rng.random() < PII_SHARE:
            pii = contact_en(rng) if lang == "en" else contact_zh(rng)
        template = frame.replace("{clause}", clause)
        if lang == "en":
            template = misspell(template, rng)
        text = _fill(template, kw=keyword or "", place=place, pii=pii)
        out.append(
            _Draft(
                at_ms=at,
                order=order + j,
                text=text,
                language=lang,
                channel=channel,
                event_id=ev.id,
                keyword=keyword,
                vague=vague[j],
                names_place=not vague[j] and in_text,
                location=location,
                address=address,
            )
        )
    return out


def _unrelated_draft(span_ms: int, rng: np.random.Generator, order: int) -> _Draft:
    lang = "zh" if rng.random() < 0.5 else "en"
    template = _pick(phrases.UNRELATED_EN if lang == "en" else phrases.UNRELATED_ZH, rng)
    if lang == "en":
        template = misspell(template, rng)
    pii = ""
    if rng.random() < PII_SHARE:
        pii = contact_en(rng) if lang == "en" else contact_zh(rng)
    return _Draft(
        at_ms=int(rng.integers(0, max(1, span_ms))),
        order=order,
        text=_fill(template, pii=pii),
        language=lang,
        channel=_channel(rng),
        event_id=None,
        keyword=None,
        vague=False,
        names_place=False,
    )


def generate_tickets(
    city: City, scenario: Scenario, settings: SimulatorSettings
) -> tuple[SimTicket, ...]:
    """All tickets of the run in arrival order, ids T-000001... in that order."""
    rng = np.random.default_rng([settings.seed, _TICKET_STREAM])
    namer = _Namer(city, rng)
    start_ms = round(scenario.start.timestamp() * 1000)
    span_ms = round((scenario.end - scenario.start).total_seconds() * 1000)
    drafts: list[_Draft] = []
    for ev in scenario.events:
        if ev.reported:
            drafts += _event_drafts(
                city, ev, start_ms, rng, namer, len(drafts), settings.paraphrase_share
            )
    for _ in range(settings.unrelated_tickets):
        drafts.append(_unrelated_draft(span_ms, rng, order=len(drafts)))
    drafts.sort(key=lambda d: (d.at_ms, d.order))
    out = []
    for n, d in enumerate(drafts, start=1):
        ticket = Ticket(
            ticket_id=f"T-{n:06d}",
            channel=d.channel,
            received_at=scenario.start + timedelta(milliseconds=d.at_ms),
            text=d.text,
            language=d.language,
            location=d.location,
            address=d.address,
        )
        out.append(SimTicket(ticket, d.event_id, d.keyword, d.vague, d.names_place))
    return tuple(out)
