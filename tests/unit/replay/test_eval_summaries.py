"""eval summaries: the labelled set from the synthetic city, and summaries scored against
their evidence with the failures counted by kind."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.core.redaction import redact
from citybrain.replay.eval_summaries import _judged, build_set, evaluate_run, load_set
from citybrain.replay.render import print_summary_eval
from citybrain.replay.runs import Run

SET = Path(__file__).parents[2] / "data" / "summary_set.jsonl"


def test_the_shipped_set_is_the_one_the_synthetic_city_builds(
    settings: Settings, city: City
) -> None:
    rows = build_set(city, settings, list(range(20_000, 20_400)), per_language=30)
    assert [r["language"] for r in rows].count("zh") == 30
    assert [r["language"] for r in rows].count("en") == 30
    for r in rows:
        assert r["department"] in r["candidates"] and len(r["candidates"]) == 3
        assert all(redact(t).total == 0 for t in r["texts"])  # stored redacted
    shipped = load_set(SET)
    assert json.loads(json.dumps(rows)) == shipped  # `--build-set` rebuilds the same file


def run_with(summaries: list[str]) -> Run:
    incident = {
        "id": "inc-1", "category": "flooding", "district": "xicheng", "status": "open",
        "severity": "high", "opened_at": "2026-11-23T08:30:00+00:00",
        "updated_at": "2026-11-23T08:40:00+00:00", "ticket_count": 2, "camera_count": 0,
    }  # fmt: skip
    evidence = [
        {"incident_id": "inc-1", "source": "ticket", "source_id": f"T-{k}",
         "text": "Heping Road underpass flooded"}
        for k in range(2)
    ]  # fmt: skip
    return Run(
        path=Path("."),
        meta={},
        incidents=[incident],
        dispatches=[],
        summaries=[{"incident_id": "inc-1", "summary": s} for s in summaries],
        evidence=evidence,
    )


def test_a_run_is_scored_by_kind_and_templates_are_not_counted(city: City) -> None:
    result = evaluate_run(
        city,
        run_with(
            [
                "Flooding at the Heping Road underpass: 2 citizen reports since 08:30.",
                "Flooding at Gongye Road: 5 reports.",
                "和平路积水。",
                "Flooding at Heping Road (Xicheng): 2 reports. [template]",
            ]
        ),
        "en",
    ).to_dict()
    assert (result["scored"], result["passed"]) == (3, 1)
    assert result["failures_by_kind"] == {
        "count": 1,
        "language": 1,
        "no_content": 1,
        "number_noun": 1,
        "place": 1,
    }
    assert result["skipped"] == {"template": 1}


def test_a_language_where_nothing_passed_is_reported_and_printed(city: City) -> None:
    """The report printed a KeyError instead of its table when no summary of a language
    passed (the per-language counter had no "passed" key)."""
    result = evaluate_run(city, run_with(["Flooding at Gongye Road: 5 reports."]), "en").to_dict()
    assert result["by_language"] == {"en": {"n": 1, "passed": 0, "pass_rate": 0.0}}
    console = Console(record=True, width=120)
    print_summary_eval(result, console)
    assert "0 / 1" in console.export_text()


def test_a_call_with_no_usable_answer_fails_as_its_outcome(city: City) -> None:
    from citybrain.core.messages import KeyFacts

    facts = KeyFacts.model_validate(
        {"category": "flooding", "category_name": "Flooding", "district": None,
         "district_name": None, "status": "open", "severity": "high", "ticket_count": 1,
         "camera_count": 0, "first_seen": "2026-11-23T08:30:00Z",
         "last_seen": "2026-11-23T08:30:00Z"}
    )  # fmt: skip
    assert _judged(city, "timeout", "", facts, [], "en", "timed out")[1] == ["timeout: timed out"]
    _, problems = _judged(city, "ok", '{"summary": "Flooding', facts, [], "en", "")
    assert problems == ["invalid: no summary string in the answer"]


def test_a_case_is_scored_for_invention_language_and_use() -> None:
    from citybrain.replay.eval_summaries import quality, score_case

    case = {"id": "c", "language": "zh", "source": "letters", "must": [["电梯"], ["掉层", "检修"]],
            "must_not": ["已修复"]}  # fmt: skip
    head = "位置不明unclassified：市民反映1件。市民反映内容："
    useful = score_case(case, "电梯经常掉层", [], head + "电梯经常掉层，请求检修。", 1)
    assert useful["useful"] and useful["model_summary"] and not useful["raw_invented"]
    vague = score_case(case, "电梯有问题", [], head + "电梯有问题。", 1)
    assert vague["model_summary"] and not vague["useful"]  # names no what: not useful
    bad = ["invents harm (injuries): 受伤", "not in Chinese"]
    rejected = score_case(case, "Elevator fell, people hurt", bad, None, 2)
    assert rejected["raw_invented"] and not rejected["raw_language_ok"]
    assert not rejected["model_summary"] and not rejected["useful"]
    q = quality([useful, vague, rejected], tokens=30, latency_ms=3000.0)
    assert q["all"]["n"] == 3 and q["all"]["raw_invented_rate"] == 0.333
    assert q["all"]["model_summary_rate"] == 0.667 and q["all"]["useful_rate"] == 0.333
    assert q["tokens_per_s"] == 10.0 and q["all"]["invented_in_shown"] == 0


def test_real_letters_are_read_from_shared_at_evaluation_time() -> None:
    from citybrain.replay.eval_summaries import build_letters_set
    from tests.shared_data import DATASETS, require

    csv_path = require(DATASETS / "letters_cn" / "letters.csv")
    notes = Path(__file__).parents[3] / "config" / "eval" / "summary_letters.yaml"
    cases = build_letters_set(csv_path, notes)
    assert len(cases) >= 40 and all(c["language"] == "zh" and c["must"] for c in cases)
    assert all(redact(t).total == 0 for c in cases for t in c["texts"])  # redacted
