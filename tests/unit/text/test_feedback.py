"""A dispatcher's reassignment becomes a labelled example the next training includes."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citybrain.cli import app
from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.core.incident import Incident
from citybrain.core.messages import Observation
from citybrain.core.routing import route
from citybrain.store import IncidentWrite, Store
from citybrain.store.web_queries import WebStore
from citybrain.text.feedback import write_feedback_csv


def test_reassignments_are_exported_and_trained_on(
    settings: Settings, city: City, history: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    store = Store.from_url(url)
    t = datetime.now(UTC) - timedelta(hours=1)
    obs = Observation(
        id="o1", source="ticket", source_id="tk1", category="noise", confidence=0.8,
        observed_at=t, district="xicheng", text="广场舞音响太吵，每天晚上到十点",
    )  # fmt: skip
    inc = Incident(
        id="inc-1", category="noise", district="xicheng", location=None, opened_at=t,
        updated_at=t, evidence_ids=("o1",), ticket_count=1,
        routing=route(city, "noise", "xicheng"),
    )  # fmt: skip
    store.write_incidents([IncidentWrite(inc, [obs])])
    ws = WebStore(store)
    ws.act("inc-1", "reassign", "ann", triage_department="hotline_triage",
           department="urban_management", reason="square dancing is ours")  # fmt: skip
    fb = tmp_path / "feedback.csv"
    assert write_feedback_csv(store, fb) == 1
    monkeypatch.setenv("CITYBRAIN_STORE__URL", url)
    res = CliRunner().invoke(app, ["router", "feedback", "--out", str(tmp_path / "cli.csv")])
    assert res.exit_code == 0 and '"examples": 1' in res.output, res.output
    [row] = list(csv.DictReader(fb.open(encoding="utf-8")))
    assert row["department"] == "urban_management" and row["district"] == "xicheng"
    assert row["text"] == obs.text
    out = tmp_path / "router"
    res = CliRunner().invoke(
        app, ["router", "train", str(history), "--text-col", "text", "--label-col", "department",
              "--map", str(history.with_suffix(".labels.yaml")), "--feedback", str(fb),
              "--cv", "0", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "1 dispatcher correction(s) included" in res.output
