"""The model step, measured: the ticket path without the model, the embedded model's latency
and tokens/s, and who decides routing (rule, model, fallback) with and without the model.

    .venv/bin/python tools/bench/model_step.py [--seeds 20] [--calls 12] [--eval-rows 120]

Baselines measured in the same run: redaction alone for the ticket path; a one-token request
for the model's latency (the server's fixed cost per call); rules only for routing accuracy.
Prints a Markdown report (and writes it as JSON with --json).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from citybrain.city_loading import load_all
from citybrain.core.ambiguity import routing_case
from citybrain.core.city import UNCLASSIFIED
from citybrain.core.facts import EvidenceItem, key_facts
from citybrain.core.incident import Incident
from citybrain.core.prompts import (
    routing_messages,
    routing_schema,
    summary_messages,
    summary_schema,
)
from citybrain.core.redaction import redact
from citybrain.llm.client import ChatRequest, LLMClient
from citybrain.llm.session import model_client
from citybrain.replay.eval_routing import evaluate_routing, load_label_map, read_rows
from citybrain.sim import simulate
from citybrain.sim.labelled_tickets import START, write_labelled_csv
from citybrain.streams.topics import Topics
from pipelines.tickets import TicketStage


def ticket_path(seeds: int) -> dict[str, Any]:
    settings, city = load_all()
    raw = []
    for seed in range(seeds):
        sim = simulate(city, settings.simulator.model_copy(update={"seed": seed}), START)
        raw += [t.ticket.model_dump_json().encode() for t in sim.tickets]
    texts = [json.loads(r)["text"] for r in raw]
    t0 = time.perf_counter()
    for text in texts:
        redact(text)
    base = time.perf_counter() - t0
    stage = TicketStage(settings, city, Topics("bench"))
    t0 = time.perf_counter()
    for r in raw:
        o = stage.observe(r)
        routing_case(city, o.category, o.district, o.location, settings.llm.border_m)
    full = time.perf_counter() - t0
    return {
        "tickets": len(raw),
        "redaction_only_per_s": round(len(raw) / base, 1),
        "ticket_path_per_s": round(len(raw) / full, 1),
        "ratio": round(base / full, 3),
    }


def model_latency(client: LLMClient, calls: int) -> dict[str, Any]:
    settings, city = load_all()
    now = datetime.now(UTC)
    probe = ChatRequest([{"role": "user", "content": "Say OK."}], None, 1)
    client.chat(probe)  # warm-up
    base = [client.chat(probe).latency_ms for _ in range(3)]
    sim = simulate(city, settings.simulator, START)
    texts = [t.ticket.text for t in sim.tickets][: max(1, calls // 2)]
    results = []
    for text in texts:
        inc = Incident(
            id="b", category=UNCLASSIFIED, district=None, location=None,
            opened_at=now, updated_at=now, ticket_count=1,
        )  # fmt: skip
        facts = key_facts(city, inc, [EvidenceItem("ticket", "t", text)])
        case = routing_case(city, UNCLASSIFIED, None)
        results.append(
            ("routing", client.chat(ChatRequest(
                routing_messages(city, facts, [text], case.candidates, case.why),
                routing_schema(case.candidates), settings.llm.max_tokens_routing,
            )))
        )  # fmt: skip
        results.append(
            ("summary", client.chat(ChatRequest(
                summary_messages(facts, [text], settings.llm.language),
                summary_schema(), settings.llm.max_tokens_summary,
            )))
        )  # fmt: skip
    out: dict[str, Any] = {"one_token_ms_median": round(statistics.median(base), 1)}
    for purpose in ("routing", "summary"):
        rs = [r for p, r in results if p == purpose]
        lat = sorted(r.latency_ms for r in rs)
        tokens = sum(r.completion_tokens for r in rs)
        out[purpose] = {
            "calls": len(rs),
            "outcomes": {o: sum(r.outcome == o for r in rs) for o in {r.outcome for r in rs}},
            "p50_ms": round(statistics.median(lat), 1),
            "p95_ms": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 1),
            "completion_tokens_per_s": round(tokens / (sum(lat) / 1000), 1),
            "prompt_tokens_mean": round(statistics.mean(r.prompt_tokens for r in rs), 1),
            "p50_vs_one_token": round(statistics.median(lat) / statistics.median(base), 2),
        }
    return out


def decisions(rows: int, with_model: bool = True) -> dict[str, Any]:
    settings, city = load_all()
    with TemporaryDirectory() as tmp:
        csv_path, labels_path = write_labelled_csv(
            city, settings.simulator, Path(tmp) / "t.csv", range(40)
        )
        data = read_rows(csv_path, rows)
        labels = load_label_map(labels_path, city)
    out = {}
    settings = _patient(settings)
    rules = settings.model_copy(update={"llm": settings.llm.model_copy(update={"enabled": False})})
    runs = [("rules_only", rules)] + ([("with_model", settings)] if with_model else [])
    for name, s in runs:
        with model_client(s.llm) as client:
            started = time.perf_counter()
            r = evaluate_routing(data, "text", "department", labels, s, city, client)
            took = time.perf_counter() - started
        n = r.scores.n
        out[name] = {
            "tickets": n,
            "accuracy": round(r.scores.accuracy, 3),
            "macro_f1": round(r.scores.macro_f1, 3),
            "share": {k: round(v / n, 3) for k, v in sorted(r.decided_by.items())},
            "correct_by": {k: f"{r.correct_by[k]}/{v}" for k, v in sorted(r.decided_by.items())},
            "model_calls": dict(r.model_calls),
            "seconds": round(took, 1),
        }
    return out


def _patient(settings: Any) -> Any:
    """Measuring latency, not guarding a stream: no retries, no breaker, a generous timeout."""
    llm = settings.llm.model_copy(
        update={"timeout_s": 600.0, "retries": 0, "breaker_failures": 10_000}
    )
    return settings.model_copy(update={"llm": llm})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--calls", type=int, default=12)
    ap.add_argument("--eval-rows", type=int, default=120)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--no-model", action="store_true", help="Only what needs no model")
    a = ap.parse_args()
    settings = _patient(load_all()[0])
    report: dict[str, Any] = {"machine": f"{platform.machine()}, {platform.python_version()}"}
    report["ticket_path"] = ticket_path(a.seeds)
    if not a.no_model:
        with model_client(settings.llm) as client:
            assert client is not None, "llm.enabled is off"
            report["model"] = model_latency(client, a.calls)
    report["decisions"] = decisions(a.eval_rows, with_model=not a.no_model)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if a.json:
        a.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
