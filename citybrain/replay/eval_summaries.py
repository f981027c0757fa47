"""`citybrain eval summaries`: generated summaries scored against the evidence they came from.

Every fact a summary states must be in its evidence (category, place, count, clock time), it
must carry no personal data, be in the language asked for and within the length bound: the
guards of core/guards.py, which the dispatch job applies before a summary is shown. Scored
on a run export (what a run's model wrote) or on a labelled set of Chinese and English
incidents from the synthetic city, for which the configured model is asked here (summary and
a JSON-schema-constrained routing choice), with latency.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from citybrain.config import Settings
from citybrain.core.ambiguity import RoutingCase
from citybrain.core.city import City
from citybrain.core.facts import EvidenceItem, key_facts, split_reported
from citybrain.core.guards import INVENTED, problem_kind, summary_problems
from citybrain.core.incident import Incident
from citybrain.core.messages import KeyFacts
from citybrain.core.redaction import redact
from citybrain.core.routing import route
from citybrain.core.summary import split_template_mark
from citybrain.llm.client import LLMClient
from citybrain.llm.step import Item, ModelStep
from citybrain.replay.runs import Run

SET_FORMAT = "citybrain-summary-set"


@dataclass
class SummaryEval:
    n: int = 0  # summaries scored
    passed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # templates, unknown incidents
    by_kind: Counter[str] = field(default_factory=Counter)  # failures by kind
    by_language: dict[str, Counter[str]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    routing: Counter[str] = field(default_factory=Counter)  # asked, right, fallback
    model: str = ""
    cases: list[dict[str, Any]] = field(default_factory=list)  # per case, --set only
    tokens: int = 0  # completion tokens of all calls (tokens/s)

    def add(self, case_id: str, language: str, summary: str, problems: list[str]) -> None:
        self.n += 1
        lang = self.by_language.setdefault(language, Counter())
        lang["n"] += 1
        if not problems:
            self.passed += 1
            lang["passed"] += 1
            return
        for kind in sorted({problem_kind(p) for p in problems}):
            self.by_kind[kind] += 1
        if len(self.failures) < 50:
            self.failures.append({"id": case_id, "summary": summary, "problems": problems})

    def to_dict(self) -> dict[str, Any]:
        lat = sorted(self.latency_ms)
        return {
            "model": self.model,
            "scored": self.n,
            "passed": self.passed,
            "pass_rate": round(self.passed / self.n, 3) if self.n else None,
            "by_language": {
                k: {
                    "n": v["n"],
                    "passed": v["passed"],  # 0 is written too: a Counter leaves it out
                    "pass_rate": round(v["passed"] / v["n"], 3) if v["n"] else None,
                }
                for k, v in sorted(self.by_language.items())
            },
            "failures_by_kind": dict(self.by_kind.most_common()),
            "skipped": dict(self.skipped),
            "latency_ms": (
                {
                    "mean": round(statistics.fmean(lat), 1),
                    "p50": round(lat[len(lat) // 2], 1),
                    "p95": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 1),
                }
                if lat
                else None
            ),
            "routing": dict(self.routing) or None,
            "quality": quality(self.cases, self.tokens, sum(self.latency_ms))
            if self.cases
            else None,
            "failures": self.failures,
        }


def evaluate_run(city: City, run: Run, language: str) -> SummaryEval:
    """The model summaries of a run export, each against its incident's stored evidence."""
    incidents = {i["id"]: i for i in run.incidents}
    evidence: dict[str, list[EvidenceItem]] = {}
    for e in run.evidence:
        evidence.setdefault(e["incident_id"], []).append(
            EvidenceItem(e["source"], e["source_id"], e.get("text"))
        )
    out = SummaryEval()
    for s in run.summaries:
        text, is_template = split_template_mark(s["summary"])
        if is_template:
            out.skipped["template"] += 1
            continue
        inc = incidents.get(s["incident_id"])
        if inc is None:
            out.skipped["unknown_incident"] += 1
            continue
        ev = evidence.get(inc["id"], [])
        if ev and all(e.text is None for e in ev if e.source == "ticket"):
            out.skipped["no_evidence_text"] += 1
        facts = key_facts(city, _state(inc), ev)
        texts = [e.text for e in ev if e.text]
        lang = s.get("language") or language
        out.add(inc["id"], lang, text, summary_problems(city, text, facts, texts, lang))
    return out


def _state(inc: dict[str, Any]) -> Incident:
    return Incident(
        id=inc["id"],
        category=inc["category"],
        district=inc.get("district"),
        location=None,
        opened_at=datetime.fromisoformat(inc["opened_at"]),
        updated_at=datetime.fromisoformat(inc["updated_at"]),
        status=inc.get("status", "open"),
        severity=inc.get("severity", "medium"),
        ticket_count=int(inc.get("ticket_count", 0)),
        camera_count=int(inc.get("camera_count", 0)),
    )


# --- the labelled set ---
def build_set(city: City, settings: Settings, seeds: list[int], per_language: int) -> list[dict]:
    """Incidents of simulated runs (one per reported event: its tickets, category, district,
    department), `per_language` whose tickets are Chinese and as many English; each with
    three departments to choose from (the right one and two others, fixed order by seed)."""
    from citybrain.sim.labelled_tickets import START
    from citybrain.sim.stream import simulate

    out: dict[str, list[dict[str, Any]]] = {"zh": [], "en": []}
    depts = sorted(d.id for d in city.departments)
    for seed in seeds:
        sim = simulate(city, settings.simulator.model_copy(update={"seed": seed}), START)
        rng = np.random.default_rng(seed)
        by_event: dict[str, list[Any]] = {}
        for st in sim.tickets:
            if st.event_id:
                by_event.setdefault(st.event_id, []).append(st.ticket)
        for ev in sim.scenario.events:
            tickets = by_event.get(ev.id)
            if not tickets:
                continue
            langs = Counter(t.language for t in tickets)
            lang = "zh" if langs.get("zh", 0) >= langs.get("en", 0) else "en"
            if len(out[lang]) >= per_language:
                continue
            others = [d for d in depts if d != ev.department]
            picks = [str(x) for x in rng.choice(others, size=2, replace=False)]
            candidates = sorted([ev.department, *picks])
            out[lang].append(
                {
                    "format": SET_FORMAT,
                    "id": f"{seed}-{ev.id}",
                    "language": lang,
                    "category": ev.category,
                    "district": ev.district,
                    "department": ev.department,
                    "candidates": candidates,
                    "place_en": ev.place_en,
                    "place_zh": ev.place_zh,
                    "first_seen": min(t.received_at for t in tickets).isoformat(),
                    "last_seen": max(t.received_at for t in tickets).isoformat(),
                    "ticket_count": len(tickets),
                    "source": "synthetic",
                    # what residents report: the problem in their words, or where it is
                    "must": [_problem_words(city, ev.category, ev.place_en, ev.place_zh)],
                    "must_not": [],
                    # redacted, as the ticket job stores evidence
                    "texts": [
                        redact(" ".join(p for p in (t.address, t.text) if p)).text for t in tickets
                    ],
                }
            )
        if all(len(v) >= per_language for v in out.values()):
            break
    return out["zh"] + out["en"]


def _problem_words(city: City, category: str, place_en: str, place_zh: str) -> list[str]:
    cat = city.category_by_id.get(category)
    words = [*cat.keywords_en, *cat.keywords_zh] if cat else []
    return [w for w in (*words, place_en, place_zh) if w]


def load_set(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    if not rows or any(r.get("format") != SET_FORMAT for r in rows):
        raise ValueError(f"{path}: not a {SET_FORMAT} file (citybrain eval summaries --build-set)")
    return rows


def _case_item(city: City, case: dict[str, Any]) -> Item:
    inc = Incident(
        id=case["id"],
        category=case["category"],
        district=case["district"],
        location=None,
        opened_at=datetime.fromisoformat(case["first_seen"]),
        updated_at=datetime.fromisoformat(case["last_seen"]),
        ticket_count=int(case["ticket_count"]),
    )
    ev = [EvidenceItem("ticket", f"{case['id']}-{i}", t) for i, t in enumerate(case["texts"])]
    rule = route(city, case["category"], case["district"])
    why = "evaluation: choose among three departments"
    return Item(inc, key_facts(city, inc, ev), list(case["texts"]),
                RoutingCase(rule=rule, candidates=tuple(case["candidates"]), why=why))  # fmt: skip


def evaluate_set(
    city: City,
    settings: Settings,
    client: LLMClient,
    cases: list[dict[str, Any]],
    routing: bool = False,
    on_case: Callable[[dict[str, Any]], None] | None = None,
) -> SummaryEval:
    """Ask the model for each case's summary as the summary worker does (the first answer,
    and the extractive second chance when the guards reject it), one incident at a time
    (latency is per call on an otherwise idle server); score the first answer raw (what the
    model invents before any guard) and the summary a dispatcher would read. `routing`: also
    a routing choice among three departments."""
    out = SummaryEval(model=settings.llm.model)
    for case in cases:
        lang = case["language"]
        step = ModelStep(city, settings.llm, client, settings.tickets.redact_house_numbers)
        it = _case_item(city, case)
        if routing:
            step.route([it], deadline=time.monotonic() + 10 * settings.llm.timeout_s)
            call = it.calls[-1] if it.calls else None
            out.routing["asked"] += 1
            if it.routing is not None and it.routing.decided_by == "model":
                out.routing["answered"] += 1
                out.routing["right"] += int(it.routing.department == case["department"])
            elif call is not None:
                out.routing[f"unusable.{call.outcome}"] += 1
            it.calls.clear()
        step.ask_summaries([it])
        first = it.calls[0]
        for call in it.calls:
            out.latency_ms.append(call.latency_ms)
            out.tokens += call.completion_tokens
        raw, problems = _judged(city, first.outcome, first.response, it.facts, it.texts, lang,
                                first.detail)  # fmt: skip
        out.add(case["id"], lang, raw, problems)
        model = it.label is not None and it.label.generated_by == "model"
        out.cases.append(
            score_case(case, raw, problems, it.summary if model else None, len(it.calls))
        )
        if on_case is not None:  # written as it goes: an hour of model time is not lost
            on_case(out.cases[-1])
    return out


def _has(text: str, phrase: object) -> bool:
    return str(phrase).lower() in text.lower()


def score_case(
    case: dict[str, Any], raw: str, problems: list[str], final: str | None, calls: int
) -> dict[str, Any]:
    """One case: what the first answer invented (guards), whether its language matched, and
    whether the summary a dispatcher reads is useful (a model summary that names what the
    annotation says residents report, all `must` groups) and free of the annotated `must_not`."""
    kinds = {problem_kind(p) for p in problems}
    reported = split_reported(final)[1] or "" if final else ""
    must = case.get("must") or []
    hits = [p for p in case.get("must_not") or [] if final and _has(reported, p)]
    return {
        "id": case["id"],
        "source": case.get("source", "synthetic"),
        "language": case["language"],
        "raw": raw,
        "raw_problems": problems,
        "raw_invented": bool(kinds & INVENTED),
        "raw_language_ok": "language" not in kinds and bool(raw.strip()),
        "model_summary": final is not None,
        "summary": final,
        "reported_chars": len(reported),
        "useful": final is not None and all(any(_has(reported, p) for p in g) for g in must),
        "must_not_hits": hits,
        "calls": calls,
    }


def _pct(n: int, d: int) -> float | None:
    return round(n / d, 3) if d else None


def quality(cases: list[dict[str, Any]], tokens: int, latency_ms: float) -> dict[str, Any]:
    """The per-model numbers of docs/QUALITY.md, overall and per source and language."""

    def block(cs: list[dict[str, Any]]) -> dict[str, Any]:
        n = len(cs)
        passed = [c for c in cs if c["model_summary"]]
        lengths = sorted(c["reported_chars"] for c in passed)
        return {
            "n": n,
            "raw_invented_rate": _pct(sum(c["raw_invented"] for c in cs), n),
            "raw_language_match": _pct(sum(c["raw_language_ok"] for c in cs), n),
            "model_summary_rate": _pct(len(passed), n),
            "useful_rate": _pct(sum(c["useful"] for c in cs), n),
            "invented_in_shown": sum(bool(c["must_not_hits"]) for c in passed),
            "reported_chars_p50": lengths[len(lengths) // 2] if lengths else None,
        }

    groups: dict[str, list[dict[str, Any]]] = {}
    for c in cases:
        groups.setdefault(f"{c['source']}.{c['language']}", []).append(c)
    return {
        "all": block(cases),
        **{k: block(v) for k, v in sorted(groups.items())},
        "tokens_per_s": round(tokens / (latency_ms / 1000), 1) if latency_ms else None,
    }


# --- real letters (../shared), annotated in config/eval/summary_letters.yaml ---
def merged(cases: list[dict[str, Any]], more: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`cases` and then those of `more` whose id is new."""
    seen = {c["id"] for c in cases}
    return cases + [c for c in more if c["id"] not in seen]


def letter_key(subject: str, detail: str) -> str:
    return hashlib.sha256(f"{subject}\x1f{detail}".encode()).hexdigest()[:12]


def build_letters_set(csv_path: Path, annotations: Path) -> list[dict[str, Any]]:
    """One incident per annotated letter: its redacted text (as the ticket job stores
    evidence), unclassified, with the annotation's must / must_not. Reads the shared data at
    build time; the set file it feeds is a build product (var/), never committed."""
    import csv

    import yaml

    notes = {
        str(k): v
        for k, v in yaml.safe_load(annotations.read_text(encoding="utf-8"))["letters"].items()
    }
    out = []
    with csv_path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            key = letter_key(row["subject"], row["detail"])
            note = notes.get(key)
            if note is None:
                continue
            text = "。".join(p for p in (row["subject"].strip(), row["detail"].strip()) if p)
            out.append(
                {
                    "format": SET_FORMAT,
                    "id": f"letter-{key}",
                    "source": "letters",
                    "language": "zh",
                    "category": "unclassified",
                    "district": None,
                    "department": "",
                    "candidates": [],
                    "first_seen": "2026-12-07T08:00:00+00:00",
                    "last_seen": "2026-12-07T08:00:00+00:00",
                    "ticket_count": 1,
                    "texts": [redact(text).text],
                    # YAML reads 380 as a number: every phrase is text
                    "must": [[str(p) for p in g] for g in note.get("must") or []],
                    "must_not": [str(p) for p in note.get("must_not") or []],
                    "question": bool(note.get("question")),
                }
            )
    missing = len(notes) - len(out)
    if missing:
        raise ValueError(f"{missing} annotated letters are not in {csv_path}")
    return sorted(out, key=lambda c: c["id"])


def _judged(
    city: City,
    outcome: str,
    response: str,
    facts: KeyFacts,
    texts: list[str],
    lang: str,
    detail: str,
) -> tuple[str, list[str]]:
    """The summary text and its problems; a call with no usable answer is one problem of
    its outcome's kind (invalid, timeout, error)."""
    if outcome not in ("ok", "rejected_by_guard"):
        return response, [f"{outcome}: {detail}"]
    try:
        data = json.loads(response, strict=False)
        text = data["summary"].strip()
    except (ValueError, KeyError, TypeError, AttributeError):
        return response, ["invalid: no summary string in the answer"]
    return text, summary_problems(city, text, facts, texts, lang)
