"""Routing evaluation over any labelled CSV of tickets (the synthetic city's, or a city's 311).

Each row runs the ticket path the pipelines run (core/ticket_path.py): redaction, keyword
classification (and the trained router, when one is given), geocoding of the address, text and
point, the responsibility list, and the model where neither can decide. Labels are mapped to department ids by a YAML file, so any dataset's own
label names can be scored.
"""

from __future__ import annotations

import csv
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from citybrain.config import Settings
from citybrain.core.advised import advised_case, department_scores, offered_case
from citybrain.core.ambiguity import routing_case
from citybrain.core.city import City
from citybrain.core.facts import EvidenceItem, key_facts
from citybrain.core.incident import Incident
from citybrain.core.messages import GeoPoint, Ticket
from citybrain.core.metrics import Scores, score
from citybrain.core.ticket_path import ReadTicket, TicketPath
from citybrain.errors import CityBrainError
from citybrain.llm.client import LLMClient
from citybrain.llm.step import Item, ModelStep
from citybrain.text.router import Router

csv.field_size_limit(sys.maxsize)  # 311 exports carry long free text


@dataclass
class RoutingEval:
    scores: Scores
    decided_by: Counter[str]
    correct_by: Counter[str]
    skipped: Counter[str] = field(default_factory=Counter)
    model_calls: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.scores.n,
            "accuracy": round(self.scores.accuracy, 4),
            "macro_f1": round(self.scores.macro_f1, 4),
            "f1": {k: round(v, 4) for k, v in self.scores.f1.items()},
            "confusion": [
                {"truth": t, "predicted": p, "n": n}
                for (t, p), n in sorted(self.scores.confusion.items())
            ],
            "decided_by": dict(self.decided_by),
            "correct_by": dict(self.correct_by),
            "skipped": dict(self.skipped),
            "model_calls": dict(self.model_calls),
        }


def load_label_map(path: Path, city: City) -> dict[str, str]:
    """`label: department_id` lines (optionally under a top-level `labels:` key)."""
    data = yaml.safe_load(path.read_text()) or {}
    if isinstance(data, dict) and isinstance(data.get("labels"), dict):
        data = data["labels"]
    if not isinstance(data, dict):
        raise CityBrainError(f"{path}: expected a mapping of label -> department id")
    unknown = sorted({str(v) for v in data.values()} - set(city.department_by_id))
    if unknown:
        raise CityBrainError(f"{path}: unknown department id(s): {', '.join(unknown)}")
    return {str(k): str(v) for k, v in data.items()}


@dataclass(frozen=True)
class TicketColumns:
    """Where a CSV row keeps what a ticket carries besides its text (None: not in the file)."""

    address: str | None = None
    lat: str | None = None
    lon: str | None = None


def row_ticket(row: dict[str, str], i: int, text: str, cols: TicketColumns, at: datetime) -> Ticket:
    """A CSV row as the ticket the pipeline would receive: its text, typed address and the
    point the reporter's app attached, when the file has them. ValidationError as the ticket
    job would refuse it."""
    point = None
    if cols.lat and cols.lon:
        try:
            point = GeoPoint(lat=float(row.get(cols.lat) or ""), lon=float(row.get(cols.lon) or ""))
        except ValueError:  # blank or not a number: a ticket without a point
            point = None
    address = (row.get(cols.address) or "").strip()[:500] if cols.address else ""
    return Ticket(
        ticket_id=f"row-{i}", received_at=at, text=text, address=address or None, location=point
    )


def evaluate_routing(
    rows: list[dict[str, str]],
    text_col: str,
    label_col: str,
    labels: dict[str, str],
    settings: Settings,
    city: City,
    client: LLMClient | None,
    chunk: int = 8,
    router: Router | None = None,
    columns: TicketColumns = TicketColumns(),
) -> RoutingEval:
    """Each row through the ticket job's own path (core/ticket_path.py), then the dispatch
    job's routing: redaction, keywords, geocoding of the address, text and point, the
    router's advice, the responsibility list, and the model where neither can decide."""
    step = _step(settings, city, client)
    items, truth, skipped = routed_items(
        rows, text_col, label_col, labels, settings, city, router, columns
    )
    for start in range(0, len(items), chunk):
        part = items[start : start + chunk]
        step.route(part, deadline=time.monotonic() + 3600.0)  # routing only: no summaries
    predicted = [it.routing.department if it.routing else "" for it in items]
    decided: Counter[str] = Counter(str(it.routing.decided_by) for it in items if it.routing)
    correct: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    for it, t, p in zip(items, truth, predicted, strict=True):
        assert it.routing is not None
        correct[it.routing.decided_by] += t == p
        for c in it.calls:
            calls[c.outcome] += 1
    return RoutingEval(score(truth, predicted), decided, correct, skipped, calls)


def _step(settings: Settings, city: City, client: LLMClient | None) -> ModelStep:
    # no stream to keep moving here: each chunk may wait for the model as long as it needs
    llm = settings.llm.model_copy(update={"batch_budget_s": 10 * settings.llm.timeout_s})
    return ModelStep(city, llm, client, settings.tickets.redact_house_numbers)


def routed_items(
    rows: list[dict[str, str]],
    text_col: str,
    label_col: str,
    labels: dict[str, str],
    settings: Settings,
    city: City,
    router: Router | None = None,
    columns: TicketColumns = TicketColumns(),
) -> tuple[list[Item], list[str], Counter[str]]:
    """The rows as the dispatch job's items, with their routing cases (not yet routed), the
    true department of each and the rows left out, by reason."""
    path = TicketPath(
        city, settings.incidents.partition_resolution, settings.tickets.redact_house_numbers
    )
    llm = settings.llm
    skipped: Counter[str] = Counter()
    truth: list[str] = []
    items: list[Item] = []
    now = datetime.now(UTC)
    kept: list[tuple[ReadTicket, str]] = []
    for i, row in enumerate(rows):
        if text_col not in row or label_col not in row:
            raise CityBrainError(f"CSV has no column {text_col!r} or {label_col!r}")
        label = (row[label_col] or "").strip()
        if label not in labels:
            skipped["unmapped_label"] += 1
            continue
        try:
            ticket = row_ticket(row, i, row[text_col] or "", columns, now)
        except ValidationError:  # e.g. no text: the ticket job dead-letters it
            skipped["invalid_ticket"] += 1
            continue
        kept.append((path.read(ticket), label))
    advice = (
        router.advise([r.place for r, _ in kept], [r.loc.district for r, _ in kept])
        if router is not None and kept
        else [None] * len(kept)
    )
    for (read, label), adv in zip(kept, advice, strict=True):
        obs = path.observe(read, adv)
        inc = Incident(
            id=read.ticket.ticket_id,
            category=obs.category,
            district=obs.district,
            location=obs.location,
            opened_at=now,
            updated_at=now,
            ticket_count=1,
        )
        if adv is not None:
            case = advised_case(city, obs.category, obs.district, adv, obs.location, llm.border_m)
        else:
            case = routing_case(
                city, obs.category, obs.district, obs.location, llm.border_m, llm.route_unclassified
            )
        text = obs.text or ""
        evidence = [EvidenceItem("ticket", inc.id, text)]
        items.append(
            Item(inc, key_facts(city, inc, evidence), [text], case, want_model_summary=False)
        )
        truth.append(labels[label])
    return items, truth, skipped


# --- the model choosing among the router's best three, against the router alone ---
@dataclass
class ChoiceEval:
    """Per ticket: the truth, the router's best department and its probability, whether the
    router was unsure (the pipeline would ask the model), the model's choice (None: no usable
    answer) and the call's outcome."""

    scope: str
    cases: list[dict[str, Any]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    in_scope: int = 0  # tickets in scope, of which `cases` were asked (--max-asked)

    def as_dict(self) -> dict[str, Any]:
        by_class: dict[str, list[dict[str, Any]]] = {}
        for c in self.cases:
            by_class.setdefault(c["truth"], []).append(c)
        return {
            "scope": self.scope,
            "in_scope": self.in_scope,
            "all": choice_block(self.cases),
            "unsure": choice_block([c for c in self.cases if c["unsure"]]),
            "by_class": {k: choice_block(v) for k, v in sorted(by_class.items())},
            "outcomes": dict(Counter(c["outcome"] for c in self.cases)),
            "skipped": dict(self.skipped),
        }


def choice_block(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Router top-1 against the model's choice on exactly these tickets; an unusable answer
    counts as wrong (the pipeline sends it to triage)."""
    n = len(cases)
    router = sum(c["router"] == c["truth"] for c in cases)
    model = sum(c["model"] == c["truth"] for c in cases)
    return {
        "n": n,
        "router_accuracy": round(router / n, 3) if n else None,
        "model_accuracy": round(model / n, 3) if n else None,
        "truth_in_candidates": sum(c["truth"] in c["candidates"] for c in cases),
        "model_fixed": sum(c["model"] == c["truth"] != c["router"] for c in cases),
        "model_broke": sum(c["router"] == c["truth"] != c["model"] for c in cases),
        "model_triage": sum(c["model"] == c["triage"] for c in cases),
        "unusable": sum(c["model"] is None for c in cases),
    }


def evaluate_model_choice(
    rows: list[dict[str, str]],
    text_col: str,
    label_col: str,
    labels: dict[str, str],
    settings: Settings,
    city: City,
    client: LLMClient,
    router: Router,
    scope: str = "unsure",
    max_asked: int | None = None,
    on_case: Callable[[dict[str, Any]], None] | None = None,
) -> ChoiceEval:
    """Ask the model to choose among the router's best three departments and triage, by the
    pipeline's own prompt and guards (ModelStep.route), one ticket at a time, on the tickets
    the router is unsure of (`unsure`: those the pipeline would ask about) or on every ticket
    (`all`); `max_asked` of them at most, evenly spread in file order."""
    if scope not in ("unsure", "all"):
        raise CityBrainError("--model-choice is unsure or all")
    step = _step(settings, city, client)
    items, truth, skipped = routed_items(rows, text_col, label_col, labels, settings, city, router)
    chosen = []
    for it, t in zip(items, truth, strict=True):
        advice = it.case.rule.advice
        if advice is None or (it.case.rule.decided_by == "rule" and not it.case.ambiguous):
            skipped["decided_by_the_list"] += 1
            continue
        if it.case.ambiguous or scope == "all":
            chosen.append((it, t, advice))
    out = ChoiceEval(scope, skipped=skipped, in_scope=len(chosen))
    if max_asked is not None and len(chosen) > max_asked:
        picks = np.linspace(0, len(chosen) - 1, max_asked).round().astype(int)
        chosen = [chosen[i] for i in sorted(set(picks.tolist()))]
    for it, t, advice in chosen:
        unsure = it.case.ambiguous
        if not unsure:
            it.case = offered_case(city, it.incident.district, advice)
        ranked = department_scores(city, advice, it.incident.district)
        step.route([it], deadline=time.monotonic() + 3600.0)
        assert it.routing is not None
        call = it.calls[-1] if it.calls else None
        case = {
            "id": it.incident.id,
            "truth": t,
            "router": ranked[0][0],
            "p": round(ranked[0][1], 4),
            "unsure": unsure,
            "candidates": list(it.case.candidates),
            "triage": city.triage_department,
            "model": it.routing.department if it.routing.decided_by == "model" else None,
            "outcome": call.outcome if call is not None else "not_asked",
            "latency_ms": round(call.latency_ms) if call is not None else None,
        }
        out.cases.append(case)
        if on_case is not None:  # written as it goes: a long run's answers are not lost
            on_case(case)
    return out


def read_rows(path: Path, limit: int | None = None) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = []
        for row in csv.DictReader(f):
            rows.append(row)
            if limit is not None and len(rows) >= limit:
                break
        return rows


def report_table(result: RoutingEval, city: City) -> list[Any]:
    """Rich renderables: the scores, how decisions were made, and the confusion matrix."""
    from rich.table import Table

    s = result.scores
    head = Table(title=f"routing: {s.n} tickets")
    head.add_column("measure")
    head.add_column("value", justify="right")
    head.add_row("accuracy", f"{s.accuracy:.3f}")
    head.add_row("macro-F1", f"{s.macro_f1:.3f}")
    for reason, n in sorted(result.skipped.items()):
        head.add_row(f"skipped ({reason})", str(n))
    how = Table(title="how each decision was made")
    for col in ("decided by", "tickets", "share", "correct"):
        how.add_column(col, justify="left" if col == "decided by" else "right")
    for by, n in sorted(result.decided_by.items()):
        how.add_row(by, str(n), f"{n / max(s.n, 1):.1%}", f"{result.correct_by[by] / n:.1%}")
    for outcome, n in sorted(result.model_calls.items()):
        how.add_row(f"  model calls: {outcome}", str(n), "", "")
    return [head, how, confusion_table(s)]


def confusion_table(s: Scores) -> Any:
    """Rows: truth, columns: predicted (labels cut to 14 characters)."""
    from rich.table import Table

    matrix = Table(title="confusion matrix (rows: truth, columns: predicted)")
    matrix.add_column("truth \\ predicted")
    for lab in s.labels:
        matrix.add_column(lab[:14], justify="right")
    for t in s.labels:
        matrix.add_row(t, *[str(s.confusion.get((t, p), "")) for p in s.labels])
    return matrix
