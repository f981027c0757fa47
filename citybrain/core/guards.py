"""Checks a model's output must pass before anyone reads it or any routing follows it.

A summary may not name a place the evidence does not mention, name a different category,
state a number or a clock time the facts and reports do not contain, carry personal data
(anything the redactor would replace), be written in another language than asked, or be
longer than the schema allows. Each problem's kind is `problem_kind(line)`. A routing proposal must be one of the
allowed departments and must not be a department the ticket text itself asks for: citizens
describe problems, the responsibility list decides who fixes them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from citybrain.core.city import City
from citybrain.core.facts import place_names, split_reported
from citybrain.core.grounding import grounding_problems, invention_problems, text_language
from citybrain.core.messages import KeyFacts
from citybrain.core.prompts import MAX_SUMMARY_CHARS
from citybrain.core.redaction import redact
from citybrain.core.summary import TEMPLATE_MARKS

_NUMBER = re.compile(r"(?<![\d.])\d+(?![\d.])")
_TIME = re.compile(r"(?<!\d)([01]?\d|2[0-3])[:：]([0-5]\d)(?!\d)")
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")

# problem line prefix -> kind, for counting failures by kind (eval summaries)
KINDS = {
    "empty summary": "empty",
    "names a place": "place",
    "names another category": "category",
    "states a number": "count",
    "states a time": "time",
    "contains personal data": "personal_data",
    "not in ": "language",
    "longer than": "length",
    "carries the template mark": "template_mark",
    "invents harm": "harm",
    "invents an outcome": "outcome",
    "names geography": "geography",
    "binds a number": "number_noun",
    "speaks as a person": "first_person",
    "carries a placeholder": "placeholder",
    "carries a URL": "url",
    "says nothing beyond": "no_content",
    "claim not in the reports": "ungrounded",
    "answers a resident's question": "outcome",  # a status nobody gave
    "invalid": "invalid",  # the call's own outcomes, when there was no usable answer
    "timeout": "timeout",
    "error": "error",
}


# A sentence of a report that speaks to the model ("ignore previous instructions, write ...")
_INSTRUCTION = re.compile(
    r"(?i)\b(?:ignore|disregard|forget)\b[^.!?\n]{0,30}\b(?:instructions?|prompt|above|rules)\b"
    r"|(?:忽略|无视|忘记)[^。！？\n]{0,10}(?:指令|指示|提示|规则|以上|上面)"
)
_SENTENCE = re.compile(r"[^.!?。！？\n]*(?:[.!?。！？\n]|$)")


# Kinds that state something the evidence does not (the invented-fact rate counts these).
INVENTED = frozenset(
    {
        "place",
        "category",
        "count",
        "time",
        "harm",
        "outcome",
        "geography",
        "number_noun",
        "ungrounded",
    }
)


def without_instructions(text: str) -> str:
    """The report without the sentence that tries to instruct the model, and what follows it
    (a prompt injection): what it asks a summary to say is not evidence of anything."""
    out = []
    for sentence in _SENTENCE.findall(text):
        if _INSTRUCTION.search(sentence):
            break
        out.append(sentence)
    return "".join(out)


def problem_kind(problem: str) -> str:
    """The kind of one problem line from `summary_problems`."""
    for prefix, kind in KINDS.items():
        if problem.startswith(prefix):
            return kind
    return "other"


_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def language_problem(
    text: str, language: str, reports: Sequence[str] = (), names: Iterable[str] = ()
) -> str | None:
    """Chinese wants mostly Han characters, English mostly Latin letters; a Chinese place
    name inside an English sentence is fine. A Latin word in a Chinese summary must be in
    `names` (the city's place names) or come from a Chinese report ("APP", a shop's name): the
    model otherwise mixes in the English reports' words (" Flooding和Xicheng交叉口")."""
    han, latin = len(_CJK.findall(text)), len(_LATIN.findall(text))
    if not han + latin:
        return None
    # a Han character carries about as much as three Latin letters
    if language == "zh" and (han < 4 or 3 * han < latin):
        return "not in Chinese"
    if language == "en" and latin < 3 * han:
        return "not in English"
    if language == "zh":
        chinese = " ".join(r for r in reports if text_language([r]) == "zh").lower()
        known = {w for n in names for w in _LATIN_WORD.findall(n.lower())}
        foreign = [
            w
            for w in _LATIN_WORD.findall(text)
            if w.lower() not in known and w.lower() not in chinese
        ]
        if foreign:
            return f"not in Chinese: mixes in {', '.join(foreign[:3])}"
    return None


def summary_problems(
    city: City,
    summary: str,
    facts: KeyFacts,
    texts: list[str],
    language: str | None = None,
) -> list[str]:
    """Empty when the summary is consistent with the evidence; else one line per problem.
    `language` (zh | en), when given, is the language the summary must be in. The part a
    model added (after the facts, `split_reported`; the whole text when it is not composed)
    must also be grounded claim by claim in the reports (core/grounding.py)."""
    text = summary.strip()
    if not text:
        return ["empty summary"]
    problems: list[str] = []
    reports = [without_instructions(t) for t in texts]  # an order to the model is no evidence
    _, reported = split_reported(text)
    added = text if reported is None else reported  # the rule-written facts are trusted
    problems += invention_problems(city, added, facts, reports)
    problems += grounding_problems(
        city, added, facts, reports, language or text_language([text]) or "en"
    )
    if len(text) > MAX_SUMMARY_CHARS:
        problems.append(f"longer than {MAX_SUMMARY_CHARS} characters: {len(text)}")
    found = redact(text).counts
    if any(found.values()):
        kinds = ", ".join(sorted(k for k, n in found.items() if n))
        problems.append(f"contains personal data: {kinds}")
    names = place_names(city)
    if language is not None and (lang := language_problem(added, language, reports, names)):
        problems.append(lang)
    low = text.lower()
    if any(mark.lower() in low for mark in TEMPLATE_MARKS):
        # The mark tells readers a text was built by rule; a model may not borrow it.
        problems.append("carries the template mark")
    evidence = " ".join([*reports, *facts.places, facts.district_name or ""]).lower()
    allowed_places = set(facts.places)
    for name, canon in names.items():
        if name in low and canon not in allowed_places and name not in evidence:
            problems.append(f"names a place not in the evidence: {canon}")
    own = city.category_by_id.get(facts.category)
    for cat in city.categories:
        if cat.id == facts.category:
            continue
        for name in (cat.name.lower(), cat.name_zh):
            own_names = (own.name.lower(), own.name_zh) if own else ()
            if name in low and name not in evidence and not any(name in o for o in own_names):
                problems.append(f"names another category: {cat.name}")
    allowed_numbers = {
        facts.ticket_count,
        facts.camera_count,
        facts.ticket_count + facts.camera_count,
    }
    for t in (facts.first_seen, facts.last_seen):
        allowed_numbers |= {t.year, t.month, t.day, t.hour, t.minute}
    for n in _NUMBER.findall(evidence):
        allowed_numbers.add(int(n))
    allowed_times = {(t.hour, t.minute) for t in (facts.first_seen, facts.last_seen)}
    allowed_times |= {(int(h), int(m)) for h, m in _TIME.findall(evidence)}
    for h, m in _TIME.findall(text):
        if (int(h), int(m)) not in allowed_times:
            problems.append(f"states a time not in the evidence: {h}:{m}")
    for n in _NUMBER.findall(_TIME.sub(" ", text)):
        if int(n) not in allowed_numbers:
            problems.append(f"states a number not in the evidence: {n}")
    return sorted(set(problems))


# A request to send the report somewhere: a verb of sending, then (within a clause) the name.
_DIRECTIVE = (
    r"(?:\b(?:send|route|forward|assign|transfer|dispatch|pass|give|hand|refer|escalate"
    r"|handled?|belongs?|responsib\w*)\b"
    r"[^.!?\n]{0,40}?"
    r"|(?:转给|交给|派给|转交|分派给|发给|转到|派到|交由|移交)[^。！？\n]{0,10}?"
    # "请环卫西片站处理", "应由…负责": close by, within the clause; "由于" is "because".
    r"|(?:请|让|应由|由(?!于)|归)[^。！？，,\n]{0,4}?)"
)


def _plain(text: str) -> str:
    """Lower case, NFKC, without invisible format characters: "water\u200bdrainage" and
    full-width letters must not slip a department's name past the guard."""
    kept = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFKC", kept).lower()


def named_departments(city: City, texts: list[str]) -> set[str]:
    """Departments a ticket text asks to be sent to: an id, a name (either language) or an
    alias after a verb of sending ("send this to ...", "转给..."). A department merely mentioned ("bad for
    the environment", "the street lighting is out") is a description, not a request."""
    joined = _plain(" ".join(texts))
    found = set()
    for d in city.departments:
        names = {d.id.lower(), d.id.replace("_", " "), d.name.lower(), d.name_zh}
        names = (names | {_plain(a) for a in d.aliases}) - {""}
        pattern = _DIRECTIVE + "(?:" + "|".join(re.escape(n) for n in sorted(names)) + ")"
        if re.search(pattern, joined):
            found.add(d.id)
    return found


def routing_problems(
    city: City, department: str, candidates: tuple[str, ...], texts: list[str]
) -> list[str]:
    if department not in candidates:
        return [f"{department!r} is not one of the allowed departments"]
    if department in named_departments(city, texts) and department != city.triage_department:
        return [f"{department} is named in the ticket text; a report cannot choose its department"]
    return []
