"""The model step for a batch of incidents: routing proposals where the list cannot decide,
then summaries; every answer validated and guarded, every call audited, and a fallback for
each thing that goes wrong, so an incident is always routed and always has a summary.

Routing requests of one batch go to the server together (up to the client's limit, the
server's parallelism) and share one deadline: past it the rules decide and say so. Summaries
are not raced against it: the dispatch job gives each incident the labelled template and
queues the summary (`pending`), and the summary worker asks the model (`ask_summaries`).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import ValidationError

from citybrain.config.llm import LLMSettings
from citybrain.core.ambiguity import RoutingCase
from citybrain.core.city import City
from citybrain.core.facts import (
    compose_summary,
    facts_line,
    localized_template,
    split_reported,
    whole_sentences,
)
from citybrain.core.grounding import incident_language
from citybrain.core.guards import routing_problems, summary_problems
from citybrain.core.incident import Incident
from citybrain.core.messages import GeneratedLabel, KeyFacts, RoutingDecision
from citybrain.core.model_calls import ModelCall
from citybrain.core.prompts import (
    PROMPT_VERSION,
    routing_messages,
    routing_schema,
    summary_messages,
    summary_schema,
)
from citybrain.llm.client import ChatRequest, ChatResult, LLMClient
from citybrain.llm.outputs import RoutingOut, SummaryOut


@dataclass
class Item:
    """One incident going through the step."""

    incident: Incident
    facts: KeyFacts
    texts: list[str]
    case: RoutingCase
    want_model_summary: bool = True
    previous: tuple[str, GeneratedLabel] | None = None  # the summary the dispatcher has now
    queued: bool = False  # the model's summary was queued; the template stands in meanwhile
    refresh_stale: bool = False  # a standing model summary the evidence outgrew: ask again
    summary_outcome: str = ""  # of the last summary call: ok | invalid | timeout | error | ...
    language: str = ""  # of the summary: the tickets' language (llm.summary_language)
    routing: RoutingDecision | None = None
    summary: str = ""
    label: GeneratedLabel | None = None
    calls: list[ModelCall] = field(default_factory=list)


class ModelStep:
    def __init__(
        self,
        city: City,
        settings: LLMSettings,
        client: LLMClient | None,
        house_numbers: bool = False,
    ) -> None:
        self.city = city
        self.settings = settings
        self.client = client if settings.enabled else None
        self.house_numbers = house_numbers

    @property
    def model(self) -> str:
        return self.settings.model

    def run(self, items: list[Item]) -> None:
        """Fill routing, summary and label of every item (in place), asking the model for
        the summaries at once (tools and tests; the dispatch job queues them instead)."""
        deadline = time.monotonic() + self.settings.batch_budget_s
        self.route(items, deadline)
        self.summarise(items, deadline)

    def run_queued(self, items: list[Item]) -> None:
        """The dispatch job's path: routing (model help within its deadline), then the
        template or the standing model summary; summaries wanted from the model are marked
        `queued` for the summary worker, never waited for."""
        self.route(items, time.monotonic() + self.settings.batch_budget_s)
        self.summarise(items, None, ask=False)

    # --- routing ---
    def route(self, items: list[Item], deadline: float) -> None:
        asks = []
        for it in items:
            if not it.case.ambiguous:
                it.routing = it.case.rule
            elif it.case.by_router and not self.settings.router_help:
                it.routing = _fallback(it.case, "model help for an unsure router is off")
            else:
                asks.append(it)
        if not asks:
            return
        if self.client is None or not self.settings.routing:
            why = "no model configured" if self.client is None else "model routing is off"
            for it in asks:
                it.routing = _fallback(it.case, why)
            return
        reqs = [
            ChatRequest(
                routing_messages(
                    self.city, it.facts, it.texts, it.case.candidates, it.case.why,
                    self.house_numbers,
                ),
                routing_schema(it.case.candidates),
                self.settings.max_tokens_routing,
                deadline,
            )
            for it in asks
        ]  # fmt: skip
        for it, req, res in zip(asks, reqs, self.client.many(reqs), strict=True):
            it.routing, call = self._judge_route(it, req, res)
            it.calls.append(call)

    def _judge_route(
        self, it: Item, req: ChatRequest, res: ChatResult
    ) -> tuple[RoutingDecision, ModelCall]:
        outcome, detail = res.outcome, res.error
        decision: RoutingDecision | None = None
        if res.outcome == "ok":
            try:
                out = RoutingOut.model_validate(res.data)
            except ValidationError as e:
                outcome, detail = "invalid", str(e.errors()[0]["msg"])
            else:
                problems = routing_problems(self.city, out.department, it.case.candidates, it.texts)
                if problems:
                    outcome, detail = "rejected_by_guard", "; ".join(problems)
                else:
                    reason = out.reason.strip() or "no reason given"
                    decision = RoutingDecision(
                        department=out.department,
                        decided_by="model",
                        reason=f"model ({it.case.why}): {reason}",
                        model=self.model,
                        prompt_version=PROMPT_VERSION,
                        advice=it.case.rule.advice,  # the router's candidates it chose from
                    )
        if decision is None:
            if outcome in ("timeout", "error") and "budget" in detail:
                why = "no model answer within the routing deadline; the rules decided"
            else:
                why = f"model answer unusable ({outcome}: {detail})"
            decision = _fallback(it.case, why[:300])
        return decision, self._call("routing", it, req, res, outcome, detail)

    # --- summaries ---
    def language_of(self, it: Item) -> str:
        """The language of an item's summary: its tickets' (the default), or a fixed one."""
        if not it.language:
            fixed = self.settings.summary_language
            it.language = (
                incident_language(it.texts, self.settings.language) if fixed == "tickets" else fixed
            )
        return it.language

    def summarise(self, items: list[Item], deadline: float | None, ask: bool = True) -> None:
        asks = []
        for it in items:
            lang = self.language_of(it)
            it.summary = localized_template(self.city, it.incident, lang)
            it.label = GeneratedLabel(generated_by="template", language=lang)
            standing = False
            if it.previous is not None:
                text, label = it.previous
                # a model summary stays while it still agrees with the grown evidence; its
                # facts are written again from the incident as it is now
                if label.generated_by == "model" and label.language == lang:
                    _, reported = split_reported(text)
                    if reported is not None:
                        head = facts_line(self.city, it.incident, lang)
                        text = compose_summary(head, reported, lang)
                    if not summary_problems(self.city, text, it.facts, it.texts, lang):
                        it.summary, it.label, standing = text, label, True
                    else:
                        it.label = it.label.model_copy(
                            update={"note": "the evidence changed since the model's summary"}
                        )
            keep = it.previous is None or standing or not it.refresh_stale
            if not it.want_model_summary and keep:
                continue
            if self.client is None or not self.settings.summaries:
                if not standing:
                    it.label = it.label.model_copy(update={"note": "model summaries are off"})
            elif not any(t.strip() for t in it.texts):
                # camera evidence only: the model would have nothing to add to the facts
                if not standing:
                    it.label = it.label.model_copy(update={"note": NO_REPORTS_NOTE})
            elif not ask:
                it.queued = True
                if not standing:
                    it.label = it.label.model_copy(update={"note": PENDING_NOTE})
            else:
                asks.append(it)
        if asks:
            self.ask_summaries(asks, deadline)

    def ask_summaries(
        self, asks: list[Item], deadline: float | None = None, attempt: int = 0
    ) -> None:
        """Ask the model for each item's summary (concurrently, at the client's limit); an
        answer the guards reject (or that is not the JSON asked for) gets one second chance
        asking for a shortened sentence of the reports (`llm.facts_retry`), sampled on a queued retry (`attempt` > 0:
        `llm.retry_temperature`, seed + attempt); what still fails keeps the template, with
        the reason in the label. Every call is audited."""
        if self.client is None:
            return
        for it in asks:
            lang = self.language_of(it)
            if it.label is None:
                it.summary = localized_template(self.city, it.incident, lang)
                it.label = GeneratedLabel(generated_by="template", language=lang)
        self._ask(asks, deadline, extractive=False, attempt=attempt)
        if self.settings.facts_retry:
            again = [it for it in asks if it.summary_outcome in ("rejected_by_guard", "invalid")]
            if again:
                self._ask(again, deadline, extractive=True, attempt=attempt)

    def _ask(
        self, asks: list[Item], deadline: float | None, extractive: bool, attempt: int = 0
    ) -> None:
        assert self.client is not None
        reqs = [
            ChatRequest(
                summary_messages(
                    it.facts, it.texts, self.language_of(it), self.house_numbers, extractive
                ),
                summary_schema(),
                self.settings.max_tokens_summary,
                deadline,
                self.settings.summary_timeout_s,
                temperature=self.settings.retry_temperature if attempt else 0.0,
                seed=self.settings.seed + attempt,
            )
            for it in asks
        ]
        for it, req, res in zip(asks, reqs, self.client.many(reqs), strict=True):
            self.judge_summary(it, req, res)

    def judge_summary(self, it: Item, req: ChatRequest, res: ChatResult) -> None:
        """Validate one answer, compose it after the rule-written facts, guard the whole;
        a rejected text never replaces the template (the reason goes to the label and the
        audit log)."""
        lang = self.language_of(it)
        outcome, detail = res.outcome, res.error
        if res.outcome == "ok":
            try:
                reported = whole_sentences(SummaryOut.model_validate(res.data).summary)
            except ValidationError as e:
                outcome, detail = "invalid", str(e.errors()[0]["msg"])
            else:
                text = compose_summary(facts_line(self.city, it.incident, lang), reported, lang)
                problems = (
                    summary_problems(self.city, text, it.facts, it.texts, lang)
                    if reported
                    else ["empty summary"]
                )
                if problems:
                    outcome, detail = "rejected_by_guard", "; ".join(problems)
                else:
                    it.summary = text
                    it.label = GeneratedLabel(
                        generated_by="model",
                        model=self.model,
                        prompt_version=PROMPT_VERSION,
                        language=lang,
                    )
        it.summary_outcome = outcome
        if outcome != "ok" and (it.label is None or it.label.generated_by != "model"):
            it.label = GeneratedLabel(
                generated_by="template",
                language=lang,
                note=f"model summary not used ({outcome}: {detail})"[:300],
            )
        it.calls.append(self._call("summary", it, req, res, outcome, detail))

    def _call(
        self, purpose: str, it: Item, req: ChatRequest, res: ChatResult, outcome: str, detail: str
    ) -> ModelCall:
        return ModelCall(
            id=uuid.uuid4().hex,
            at=datetime.now(UTC),
            purpose=purpose,
            incident_id=it.incident.id,
            model=self.model,
            prompt_version=PROMPT_VERSION,
            prompt=req.messages,  # built from redacted text only
            response=res.content if res.data is None else json.dumps(res.data, ensure_ascii=False),
            latency_ms=res.latency_ms,
            outcome=outcome,
            detail=detail,
            prompt_tokens=res.prompt_tokens,
            completion_tokens=res.completion_tokens,
        )


PENDING_NOTE = "summary pending: queued for the model"
NO_REPORTS_NOTE = "no citizen reports to summarise: the facts stand"


def _fallback(case: RoutingCase, why: str) -> RoutingDecision:
    """The rules' answer (the responsibility list, else triage), labelled as a fallback."""
    return RoutingDecision(
        department=case.rule.department,
        decided_by="fallback",
        reason=f"{case.why}; {why}; {case.rule.reason}",
        advice=case.rule.advice,
    )
