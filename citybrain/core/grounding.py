"""Claim-by-claim checks of what a model adds to an incident's summary.

The facts of a summary (category, place, counts, times, status) are written by rule; the
model only adds what residents report, compressed, in the tickets' language. A small model
invents readily ("3 reported fatalities" for three flooding reports, "a new policy",
"southwest of China", "Hi, I'm [Your Name]"), so every clause it adds is checked here against
the redacted ticket texts, in Chinese and English. A text with any problem never reaches a
dispatcher: the template stands and the problem is audited.

Two families of checks:
- `invention_problems` (the whole summary): harm, outcomes and causes, geography, numbers
  bound to another noun, first person and letter form, placeholders, URLs. What the evidence
  itself says is allowed ("the bin is damaged" when a resident wrote "damaged").
- `grounding_problems` (the model's clause only): it must say something beyond the facts, and
  each of its claims must be made of the reports' own words (word or character-bigram overlap).
"""

from __future__ import annotations

import re
from collections import Counter

from citybrain.core.city import City
from citybrain.core.facts import place_names
from citybrain.core.messages import KeyFacts

_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_NUM = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)(?![\d.])")

# (label, pattern); English patterns run on lower-cased text with word boundaries.
_HARM = [
    ("casualties", r"\bcasualt\w*|\bfatalit\w*|伤亡|罹难|遇难"),
    ("deaths", r"\bdead\b|\bdeaths?\b|\bdied\b|\bkill\w*|死亡|身亡|死者|致死|丧生"),
    (
        "injuries",
        r"\binjur\w*|\bwounded\b|\bhurt\b|\bvictims?\b|\bhospital\w*|受伤|伤者|伤员|重伤|轻伤|住院",
    ),
    ("people trapped or missing", r"\btrapped\b|\bmissing\b|\bstranded\b|被困|失踪|受困"),
    ("arrests", r"\barrest\w*|\bdetain\w*|\bcustody\b|逮捕|拘留|抓获|刑拘"),
    (
        "damage",
        r"\bdamag\w*|\bdestroy\w*|\bcollaps\w*|\bexplo\w*|损坏|损毁|毁坏|损失|倒塌|坍塌|爆炸",
    ),
]
_OUTCOME = [
    (
        "a resolution",
        r"\bresolved\b|\bsolved\b|\bfixed\b|\brepaired\b|\bcleared\b|\bhandled\b"
        r"|\baddressed\b|\bcompleted\b|\brestored\b|已解决|解决了|得到解决|已处理|处理完|已修复|修复了"
        r"|已清理|清理完|已完成|已恢复|恢复正常"
        r"|\bfound\b|\brecovered\b|被发现|被找到|找到了|已找到|找回|寻回"  # a lost pet "found"
        # someone sent or on the way: "Please send someone" is a request, not a dispatch
        r"|\b(?:has|have|had|was|were|been|being) (?:sent|dispatched|deployed)\b"
        r"|\bon (?:the|their|its) way\b|已派|派了人|已安排|已到场|已赶到",
    ),
    (
        "a policy or measure",
        r"\bpolic(?:y|ies)\b|\bimplement\w*|\bmeasures?\b|\bregulations?\b"
        r"|\bcampaign\b|\binitiative\b|政策|措施|出台|实施|整治行动|专项",
    ),
    (
        "a cause",
        r"\bcaus\w*|\bdue to\b|\bbecause\b|\bresult(?:ed|s|ing)? (?:in|from)\b|\bled to\b"
        r"|\blead(?:s|ing)? to\b"
        r"|原因|由于|导致|造成|因为",
    ),
    (
        "advice or a plan",
        r"\badvis\w*|\bshould\b|\bmust\b|\brecommend\w*|\burg\w*|\bwarn\w*"
        r"|\bwill\b|\bplan(?:s|ned)? to\b|\bplease\b|建议|应当|应该|必须|提醒|呼吁|请尽快|将会|计划|预计",
    ),
    (
        "a status",
        r"\bunknown\b|\bunclear\b|\bnot (?:yet )?(?:known|fixed|resolved|repaired|handled)\b"
        r"|\byet to be\b|\bno one\b|\bnobody\b|尚不清楚|不得而知|无人知晓",
    ),
    (
        "an investigation or penalty",
        r"\binvestigat\w*|\bfined?\b|\bpenalt\w*|\bcrime\b|\bcriminal\w*"
        r"|调查|罚款|处罚|犯罪",
    ),
]
_GEOGRAPHY = (
    r"\bchina\b|\bworld\b|\bcountry\b|\bnation\w*|\bprovinc\w*|\binternational\b|\bglobal\w*"
    r"|\basia\w*|\babroad\b|\boverseas\b|\b(?:south|north)[- ]?(?:east|west)\w*"
    r"|\b(?:southern|northern|eastern|western)\b|\b(?:north|south|east|west) of\b"
    r"|\bcity of\b|\b(?:a|the) (?:city|town|village|county|region) in\b|\bbeijing\b|\bshanghai\b"
    r"|中国|全国|世界|全球|国际|国内|国外|海外|亚洲|全省|本省|省内|省份|西南|东南|西北|东北"
    r"|华北|华南|华东|华中|北京|上海"
)
# who speaks or is spoken to: a summary is third person, never a letter
_PERSON = (
    r"\bi\b|\bi'(?:m|ve|ll|d)\b|\bme\b|\bmy\b|\bmine\b|\bmyself\b|\bwe\b|\bwe're\b|\bour\b"
    r"|\bours\b|\bus\b|\byou\b|\byour\b|\byours\b|^\s*(?:hi|hello|dear|greetings)\b"
    r"|\bregards\b|\bsincerely\b|\bthank(?:s| you)\b"
    r"|我|咱|您|你|尊敬的|此致|敬礼|谢谢|感谢"
)
_PLACEHOLDER = re.compile(
    r"\[[^\]\n]{0,40}\]|\{[^}\n]{0,40}\}|【[^】\n]{0,20}】|<[^>\n]{0,40}>|‹[^›\n]{0,40}›"
    r"|\b[A-Za-z]+_[A-Za-z_]+\b|\bX{3,}\b|某某|\*{2,}|_{3,}"
)
_URL = re.compile(
    r"(?i)\b(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|cn|org|net|gov|edu|io)\b|\S+@\S+\.\w+"
)
# the noun a count is bound to, per fact
_REPORT_NOUNS = {"report", "reports", "citizen", "citizens", "resident", "residents", "ticket",
                 "tickets", "complaint", "complaints", "caller", "callers", "letter", "letters",
                 "件", "条", "封", "位", "名", "人", "次", "个"}  # fmt: skip
_CAMERA_NOUNS = {"camera", "cameras", "observation", "observations", "次", "个", "台", "摄"}
# words a summary uses that say nothing about the problem itself
_GENERIC_EN = {
    "the",
    "a",
    "an",
    "and",
    "or",
    "of",
    "in",
    "on",
    "at",
    "to",
    "for",
    "with",
    "by",
    "from",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "has",
    "have",
    "had",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "there",
    "their",
    "they",
    "them",
    "as",
    "about",
    "not",
    "no",
    "near",
    "into",
    "over",
    "than",
    "then",
    "also",
    "still",
    "some",
    "since",
    "which",
    "who",
    "what",
    "when",
    "where",
    "residents",
    "resident",
    "citizens",
    "citizen",
    "report",
    "reports",
    "reported",
    "reporting",
    "say",
    "says",
    "said",
    "describe",
    "describes",
    "complain",
    "complains",
    "complained",
    "ask",
    "asks",
    "asked",
    "people",
    "incident",
    "issue",
    "problem",
    "area",
    "street",
    "road",
    "district",
    "several",
    "many",
    "one",
    "two",
    "three",
    "utc",
    "again",
    "very",
    "more",
    "other",
    "can",
    "cannot",
    "does",
    "do",
}
_GENERIC_ZH = re.compile(
    r"市民|居民|群众|网友|反映|反应|投诉|举报|报告|表示|称|说|询问|咨询|想知道|问题|情况|事件|内容|有关|相关|目前|"
    r"的|了|在|是|有|和|与|及|等|也|都|被|把|对|其|该|此|这|那|一|个|件|次|多|已|仍|还"
)
_SENT = re.compile(r"[^.!?;。！？；\n]+")
# Share of a claim's words (English) or character bigrams (Chinese) the reports must contain.
MIN_SUPPORT = 0.6
_CLOCK = re.compile(r"\d{4}[-/年]\d{1,2}[-/月]\d{1,2}日?|\d{1,2}[:：]\d{2}")
_DATE = re.compile(r"\d{4}[-/年]\d{1,2}[-/月]\d{1,2}日?|\d{1,2}[:：]\d{2}|\d+")


def text_language(texts: list[str]) -> str | None:
    """zh or en by the script most of the text is in; None for no letters at all (a Han
    character carries about as much as three Latin letters)."""
    joined = " ".join(texts)
    han, latin = len(_CJK.findall(joined)), len(_LATIN.findall(joined))
    if not han + latin:
        return None
    return "zh" if 3 * han >= latin else "en"


def incident_language(texts: list[str], default: str) -> str:
    """The language most of an incident's tickets are written in (each ticket one vote, a
    tie to Chinese), else `default` (camera-only incidents, empty texts)."""
    votes = Counter(lang for t in texts if (lang := text_language([t])))
    if not votes:
        return default
    return "zh" if votes["zh"] >= votes["en"] else "en"


def _low(text: str) -> str:
    return text.lower()


def _evidence(facts: KeyFacts, texts: list[str]) -> str:
    return " ".join([*texts, *facts.places, facts.district_name or ""]).lower()


def _bound_nouns(text: str, number: str, at: int) -> list[str]:
    """The words right after a number: the next two English words, or the next two Han
    characters (a classifier and a noun's first character)."""
    rest = text[at : at + 24].lstrip(" -")
    if rest[:1] and _CJK.match(rest[:1]):
        return [c for c in rest[:2] if _CJK.match(c)]
    words = [w for w in _WORD.findall(rest.split(".")[0])[:4] if w not in _QUALIFIERS]
    return words[:1]


# words between a number and its noun that do not change what is counted
_QUALIFIERS = {
    "more",
    "of",
    "about",
    "than",
    "the",
    "a",
    "reported",
    "confirmed",
    "new",
    "serious",
    "severe",
    "major",
    "minor",
    "separate",
    "different",
    "other",
    "additional",
    "further",
    "total",
    "people",
    "person",
}


def _stem(w: str) -> str:
    return w[:5] if len(w) > 5 else w.rstrip("s")


def number_problems(text: str, facts: KeyFacts, texts: list[str]) -> list[str]:
    """A number must keep the noun it has in the evidence: "3 reports" is a fact, "3
    fatalities" is not; "40 cm" is what a report says, "40 cars" is not."""
    low = _CLOCK.sub(" ", _low(text))  # dates and clock times: the time guard's
    reports = [_low(t) for t in texts]
    problems = []
    for m in _NUM.finditer(low):
        n = m.group(1)
        nouns = _bound_nouns(low, n, m.end())
        if not nouns:
            continue
        allowed: set[str] = set()
        value = float(n)
        if value == facts.ticket_count or value == facts.ticket_count + facts.camera_count:
            allowed |= _REPORT_NOUNS
        if value == facts.camera_count:
            allowed |= _CAMERA_NOUNS
        for r in reports:
            for e in _NUM.finditer(r):
                if float(e.group(1)) == value:
                    allowed |= set(_bound_nouns(r, e.group(1), e.end()))
        stems = {_stem(a) for a in allowed}
        if not any(w in allowed or _stem(w) in stems for w in nouns):
            sep = "" if _CJK.match(nouns[0]) else " "
            problems.append(f"binds a number to another noun: {n}{sep}{sep.join(nouns)}")
    return problems


def invention_problems(city: City, text: str, facts: KeyFacts, texts: list[str]) -> list[str]:
    """What a summary states that the evidence does not: harm, outcomes, causes, advice,
    geography beyond the city, numbers bound to another noun, first person and letter
    form, placeholders, URLs. One line per problem; empty when none."""
    low = _low(text)
    evidence = _evidence(facts, texts)
    problems = []
    for label, pattern in _HARM:
        for m in re.finditer(pattern, low):
            if not re.search(pattern, evidence):
                problems.append(f"invents harm ({label}): {m.group(0)}")
                break
    for label, pattern in _OUTCOME:
        for m in re.finditer(pattern, low):
            if m.group(0) not in evidence:
                problems.append(f"invents an outcome ({label}): {m.group(0)}")
                break
    # a report's "nobody deals with it" turned into "somebody does" (没人管 -> 有人管)
    for m in re.finditer(r"(?<![没无])有人(管|处理|收|来)", low):
        if re.search(f"(?:没|无|没有)人{m.group(1)}", evidence):
            problems.append(f"invents an outcome (the reports say nobody): {m.group(0)}")
    city_names = set(place_names(city))
    for m in re.finditer(_GEOGRAPHY, low):
        if m.group(0) not in evidence and not any(m.group(0) in n for n in city_names):
            problems.append(f"names geography beyond the city: {m.group(0)}")
    if m2 := re.search(_PERSON, low):
        problems.append(f"speaks as a person or to the reader: {m2.group(0).strip()}")
    if m3 := _PLACEHOLDER.search(text):
        problems.append(f"carries a placeholder: {m3.group(0)}")
    if m4 := _URL.search(text):
        problems.append(f"carries a URL: {m4.group(0)}")
    problems += number_problems(text, facts, texts)
    return problems


def _units(text: str, language: str) -> list[str]:
    """Content units of a claim: English words minus the generic ones (stemmed), or Chinese
    character bigrams of the text without its generic words."""
    if language == "zh":
        units = []
        for run in re.findall(r"[\u3400-\u9fff]+", _GENERIC_ZH.sub(" ", text)):
            units += [run[i : i + 2] for i in range(len(run) - 1)] or [run]
        return units
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _GENERIC_EN and len(w) > 1]


def _facts_names(city: City, facts: KeyFacts) -> list[str]:
    """What the rule-written facts already say: category and place names, longest first."""
    cat = city.category_by_id.get(facts.category)
    names = [facts.category_name, *facts.places, facts.district_name or ""]
    if cat is not None:
        names += [cat.name, cat.name_zh, *cat.keywords_en, *cat.keywords_zh]
    for name, canon in place_names(city).items():
        if canon in facts.places or canon == facts.district_name:
            names.append(name)
    return sorted({n.lower() for n in names if n}, key=len, reverse=True)


def _without(text: str, names: list[str]) -> str:
    low = text.lower()
    for n in names:
        low = low.replace(n, " ")
    return low


# A resident's question, and a clause that says it is one (or asks it again)
_QUESTION = re.compile(
    r"[?？]|吗|什么|怎么|如何|何时|几时|多少|哪里|哪儿|是否|请问"
    r"|(?i:^\s*(?:when|how|what|where|why|which|who|whom|can|could|do|does|is|are|will)\b)"
)
_ASKS = re.compile(
    r"[?？]|询问|咨询|请问|问|想知道|想了解|了解"
    r"|(?i:\bask\w*|\binquir\w*|\benquir\w*|\bquestion\w*|\bwants? to know\b"
    r"|\bwould like to know\b|\bwhether\b|\bhow to\b|\bwhen\b)"
)


def only_questions(texts: list[str]) -> bool:
    """Every report (with any text) asks something: the summary must report a question."""
    asked = [t for t in texts if t.strip()]
    return bool(asked) and all(_QUESTION.search(t) for t in asked)


def question_problems(reported: str, texts: list[str]) -> list[str]:
    """Where every report is a question, the clause must report a question, not answer it:
    a small model turns "When does registration open?" into "Registration is currently
    open", a status nobody gave."""
    if not only_questions(texts) or _ASKS.search(reported):
        return []
    return [f"answers a resident's question as a statement: {reported.strip()[:60]}"]


def grounding_problems(
    city: City, reported: str, facts: KeyFacts, texts: list[str], language: str
) -> list[str]:
    """The model's clause (what residents report) must say something the facts do not, and
    each of its claims must be made of the reports' own words: at least MIN_SUPPORT of a
    claim's words (bigrams in Chinese) appear in the reports."""
    text = reported.strip()
    if not text:
        return ["empty summary"]
    bare = _DATE.sub(" ", text)
    names = _facts_names(city, facts)
    if not _units(_without(bare, names), language):
        return ["says nothing beyond the facts: only a date, a count or the template"]
    problems = question_problems(text, texts)
    pool = set()
    for t in texts:
        pool |= set(_units(_without(t, names), language))
    for claim in _SENT.findall(bare):
        low = claim.lower()
        named = sum(1 for n in names if n in low)  # the facts' own names count as support
        units = _units(_without(claim, names), language)
        if not units:
            continue
        found = named + sum(1 for u in units if u in pool)
        if found / (named + len(units)) < MIN_SUPPORT:
            missing = [u for u in units if u not in pool][:4]
            problems.append(
                f"claim not in the reports ({found}/{named + len(units)} supported; "
                f"{', '.join(missing)}): {claim.strip()[:60]}"
            )
    return problems
