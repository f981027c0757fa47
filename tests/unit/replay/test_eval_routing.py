"""`citybrain eval routing` over a labelled CSV made from the synthetic city's tickets."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from citybrain.cli import app
from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.replay.eval_routing import (
    ChoiceEval,
    choice_block,
    evaluate_routing,
    load_label_map,
    read_rows,
)
from citybrain.sim.labelled_tickets import write_labelled_csv


def test_rules_only_scores_on_synthetic_tickets(
    settings: Settings, city: City, tmp_path: Path
) -> None:
    csv_path, labels_path = write_labelled_csv(
        city, settings.simulator, tmp_path / "tickets.csv", range(3)
    )
    rows = read_rows(csv_path)
    rows.append({"ticket_id": "x", "text": "something", "department": "Ministry of Magic"})
    s = settings.model_copy(update={"llm": settings.llm.model_copy(update={"enabled": False})})
    result = evaluate_routing(
        rows, "text", "department", load_label_map(labels_path, city), s, city, None
    )
    assert result.scores.n == len(rows) - 1 and result.skipped["unmapped_label"] == 1
    # the list decides most tickets, and decides them right; the rest go to triage, labelled
    assert result.decided_by["rule"] > result.decided_by["fallback"] > 0
    assert result.correct_by["rule"] / result.decided_by["rule"] > 0.95
    assert set(result.decided_by) <= {"rule", "fallback"} and not result.model_calls
    assert 0.8 < result.scores.accuracy <= 1.0 and 0 < result.scores.macro_f1 <= 1.0
    assert sum(result.scores.confusion.values()) == result.scores.n


def test_cli(settings: Settings, city: City, tmp_path: Path) -> None:
    csv_path, labels_path = write_labelled_csv(
        city, settings.simulator, tmp_path / "tickets.csv", [5]
    )
    out = tmp_path / "scores.json"
    args = ["eval", "routing", str(csv_path), "--text-col", "text", "--label-col", "department"]
    res = CliRunner().invoke(
        app, [*args, "--map", str(labels_path), "--no-llm", "--json", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "accuracy" in res.output and "macro-F1" in res.output and "confusion" in res.output
    assert "how each decision was made" in res.output
    scores = json.loads(out.read_text())
    assert scores["n"] == len(read_rows(csv_path)) and scores["decided_by"]["rule"] > 0
    bad = CliRunner().invoke(
        app, ["eval", "routing", str(csv_path), "--text-col", "nope", "--label-col", "department",
              "--map", str(labels_path), "--no-llm"],
    )  # fmt: skip
    assert bad.exit_code == 2 and "no column 'nope'" in bad.output


def test_rows_run_the_ticket_jobs_path_with_their_address_and_point(
    settings: Settings, city: City
) -> None:
    """The evaluation locates a row as the ticket job locates a ticket: by its typed address
    and the point an app attached, not by the text alone. Illegal parking is routed by
    district, so a row placed only by its address or point is routed by the list."""
    from citybrain.replay.eval_routing import TicketColumns

    text = "A car is illegally parked on the pavement again"
    rows = [
        {"text": text, "addr": "", "lat": "30.272", "lon": "120.115", "dept": "north"},
        {
            "text": text,
            "addr": "Gongye Road and Renmin Road",
            "lat": "",
            "lon": "",
            "dept": "north",
        },
        {"text": "", "addr": "", "lat": "", "lon": "", "dept": "north"},  # refused by the job too
    ]
    labels = {"north": "traffic_police_north"}
    s = settings.model_copy(update={"llm": settings.llm.model_copy(update={"enabled": False})})
    placed = evaluate_routing(
        rows, "text", "dept", labels, s, city, None, columns=TicketColumns("addr", "lat", "lon")
    )
    assert placed.skipped["invalid_ticket"] == 1
    assert placed.decided_by["rule"] == 2 and placed.scores.accuracy == 1.0
    text_only = evaluate_routing(rows, "text", "dept", labels, s, city, None)
    assert text_only.decided_by["fallback"] == 2 and text_only.scores.accuracy == 0.0


def _choice(truth: str, router: str, model: str | None, unsure: bool = True) -> dict:
    return {
        "id": f"{truth}-{router}-{model}", "truth": truth, "router": router, "p": 0.5,
        "unsure": unsure, "candidates": [router, "b", "t"], "triage": "t", "model": model,
        "outcome": "ok" if model else "invalid", "latency_ms": 1,
    }  # fmt: skip


def test_model_choice_is_scored_against_the_router_on_the_same_tickets() -> None:
    cases = [
        _choice("a", "a", "a"),  # both right
        _choice("a", "a", "b"),  # the model broke a right router
        _choice("b", "a", "b"),  # the model fixed it
        _choice("a", "a", "t"),  # the model sent it to triage
        _choice("a", "a", None),  # no usable answer: counts as wrong (the pipeline's triage)
        _choice("c", "a", "a", unsure=False),  # the truth was not among the candidates
    ]
    b = choice_block(cases)
    assert b["n"] == 6 and b["router_accuracy"] == round(4 / 6, 3)
    assert b["model_accuracy"] == round(2 / 6, 3)
    assert (b["model_fixed"], b["model_broke"], b["model_triage"], b["unusable"]) == (1, 3, 1, 1)
    assert b["truth_in_candidates"] == 5
    d = ChoiceEval("all", cases, in_scope=9).as_dict()
    assert d["unsure"]["n"] == 5 and d["all"] == b and d["in_scope"] == 9
    assert {k: v["n"] for k, v in d["by_class"].items()} == {"a": 4, "b": 1, "c": 1}
    assert d["outcomes"] == {"ok": 5, "invalid": 1}
    assert choice_block([])["router_accuracy"] is None


def test_the_letters_city_maps_every_domain_of_the_letters() -> None:
    """config/letters: one bureau per first-level domain of letters_cn (the domain prior's
    labels), for `router train --map` and `eval routing --model-choice` on real letters."""
    from citybrain.city_loading import load_all
    from citybrain.text import DEFAULT_PRIOR
    from citybrain.text.prior import load_prior

    root = Path(__file__).resolve().parents[3]
    _, city = load_all(root / "config" / "letters" / "citybrain.yaml")
    labels = load_label_map(root / "config" / "letters" / "labels.yaml", city)
    assert set(labels) == set(load_prior(root / DEFAULT_PRIOR).domains)
    assert len(set(labels.values())) == 7 and city.triage_department not in labels.values()
