"""Routing help from the real embedded model (llama.cpp + the default Qwen2.5-Coder-0.5B):
`eval routing --model-choice` asks it to choose among a trained router's best three departments
by the pipeline's own prompt and guards, and scores it against the router's best on the same
tickets; with `llm.router_help` off (the default) an unsure router's ticket goes to triage
without a call. A router trained on the synthetic city's history, held-out seeds; few calls."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citybrain.cli import app
from citybrain.config import Settings
from citybrain.core.advised import advised_case
from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.facts import EvidenceItem, key_facts
from citybrain.core.incident import Incident
from citybrain.core.messages import LabelScore, RouterAdvice
from citybrain.llm.client import LLMClient
from citybrain.llm.step import Item, ModelStep
from citybrain.sim.labelled_tickets import write_labelled_csv
from citybrain.text.router_train import TrainResult

pytestmark = pytest.mark.integration
T = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)


def test_eval_routing_model_choice_against_the_router(
    settings: Settings,
    city: City,
    embedded_llm: str,
    trained: tuple[Path, TrainResult],
    history: Path,
    tmp_path: Path,
) -> None:
    held_out, _ = write_labelled_csv(city, settings.simulator, tmp_path / "held.csv", [900])
    router_dir, _ = trained
    out, samples = tmp_path / "choice.json", tmp_path / "choice.jsonl"
    args = [
        "eval", "routing", str(held_out), "--text-col", "text", "--label-col", "department",
        "--router", str(router_dir), "--map", str(history.with_suffix(".labels.yaml")),
        "--model-choice", "all", "--max-asked", "3", "--samples", str(samples),
        "--json", str(out),
    ]  # fmt: skip
    env = {
        "CITYBRAIN_LLM__EMBEDDED": "false",
        "CITYBRAIN_LLM__ENDPOINT": embedded_llm,
        "CITYBRAIN_LLM__TIMEOUT_S": "180",
        "CITYBRAIN_LLM__RETRIES": "0",
    }
    res = CliRunner().invoke(app, args, env=env)
    assert res.exit_code == 0, res.output
    assert "the model choosing among the router's best 3" in res.output
    result = json.loads(out.read_text())
    cases = [json.loads(line) for line in samples.read_text().splitlines()]
    assert result["scope"] == "all" and result["all"]["n"] == len(cases) == 3
    assert result["in_scope"] > 3  # every held-out ticket was in scope; 3 were asked, spread
    for c in cases:
        # the router's best is always offered first, and triage (this history's router
        # knows triage as a label too); the model chose among them or its answer was
        # unusable, and the call's outcome says which
        assert c["router"] == c["candidates"][0] and c["triage"] in c["candidates"]
        assert (c["model"] in c["candidates"]) == (c["outcome"] == "ok"), c
        assert c["latency_ms"] is not None and 0 <= c["p"] <= 1
    block = result["all"]
    right = sum(c["model"] == c["truth"] for c in cases)
    assert block["model_accuracy"] == round(right / 3, 3)
    assert block["unusable"] == sum(c["model"] is None for c in cases)
    assert sum(b["n"] for b in result["by_class"].values()) == 3
    assert sum(result["outcomes"].values()) == 3


def test_an_unsure_router_goes_to_triage_unless_router_help_is_on(
    settings: Settings, city: City, embedded_llm: str
) -> None:
    text = "The lamp outside number 3 has been dark for a week"
    inc = Incident(
        id="i-lamp", category=UNCLASSIFIED, district="xicheng", location=None,
        opened_at=T, updated_at=T, ticket_count=1,
    )  # fmt: skip
    advice = RouterAdvice(
        router="r1",
        kind="department",
        top=(
            LabelScore(label="street_lighting", p=0.5),
            LabelScore(label="city_roads", p=0.3),
            LabelScore(label="environment", p=0.1),
        ),
        auto_threshold=0.8,
        min_confidence=0.2,
    )

    def routed(router_help: bool) -> Item:
        it = Item(
            inc,
            key_facts(city, inc, [EvidenceItem("ticket", "t", text)]),
            [text],
            advised_case(city, UNCLASSIFIED, "xicheng", advice),
            want_model_summary=False,
        )
        llm = settings.llm.model_copy(
            update={"timeout_s": 180.0, "retries": 0, "router_help": router_help}
        )
        client = LLMClient(llm, embedded_llm)
        try:
            ModelStep(city, llm, client).route([it], deadline=time.monotonic() + 600)
        finally:
            client.close()
        return it

    assert settings.llm.router_help is False  # the default
    off = routed(False)
    assert off.routing is not None and not off.calls
    assert off.routing.decided_by == "fallback" and off.routing.department == "hotline_triage"
    assert "model help for an unsure router is off" in off.routing.reason
    assert off.routing.advice == advice  # the dispatcher still sees the router's advice
    on = routed(True)
    assert [c.purpose for c in on.calls] == ["routing"]
    assert on.routing is not None and on.routing.department in on.case.candidates
    assert on.routing.decided_by == ("model" if on.calls[0].outcome == "ok" else "fallback")
