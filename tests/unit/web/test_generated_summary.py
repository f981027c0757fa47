"""What the dispatch job stored about a summary and its model calls, as the web shows it: the
label names the model and prompt version, accepting confirms it, the calls join the audit."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from citybrain.store import Store
from citybrain.store.models import IncidentRow, ModelCallRow, SummaryRow

from .conftest import ClientFor, csrf_of

AT = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)


def _store_model_summary(store: Store, incident_id: str) -> None:
    with store.sessions.begin() as s:
        s.add(
            SummaryRow(
                incident_id=incident_id,
                text="Water over the kerb at the underpass, reported twice.",
                language="en",
                generated_by="model",
                model="smollm2-135m",
                prompt_version="summary-v3",
                verified=False,
                note="",
                facts={"category": "flooding", "tickets": 2},
                updated_at=AT,
            )
        )
        s.add(
            ModelCallRow(
                id="call-1",
                at=AT,
                purpose="summary",
                incident_id=incident_id,
                model="smollm2-135m",
                prompt_version="summary-v3",
                prompt="[redacted prompt]",
                response="{}",
                latency_ms=812.0,
                outcome="ok",
            )
        )


def test_generated_summary_is_labelled_confirmed_on_accept_and_audited(
    client_for: ClientFor, store: Store
) -> None:
    _store_model_summary(store, "flood-1")
    drainage = client_for("drainage")
    before = drainage.get("/api/incidents/flood-1").json()
    label = before["summary_label"]
    assert label["kind"] == "generated" and label["verified"] is False
    assert "smollm2-135m" in label["label"] and "summary-v3" in label["label"]
    assert "not verified" in label["label"]
    model_entries = [e for e in before["audit"] if e["kind"] == "model"]
    assert [(e["actor"], e["ref"]) for e in model_entries] == [("smollm2-135m", "call-1")]
    assert "ok, 812 ms" in model_entries[0]["what"]

    page = drainage.get("/incidents/flood-1").text
    shown = re.search(r'name="summary_sha256" value="([0-9a-f]{64})"', page)
    assert shown and shown.group(1) == label["sha256"]  # the page sends back what it shows
    form = {"csrf_token": csrf_of(drainage), "action": "accept", "summary_sha256": shown.group(1)}
    r = drainage.post("/incidents/flood-1/actions", data=form, headers={"accept": "text/html"})
    assert r.status_code == 303
    after = drainage.get("/api/incidents/flood-1").json()["summary_label"]
    assert after["verified"] is True and "verified by drainage" in after["label"]
    page = drainage.get("/incidents/flood-1")
    assert "verified by drainage" in page.text


def test_chinese_template_summaries_are_labelled_as_templates(
    client_for: ClientFor, store: Store
) -> None:
    """Chinese dispatchers get the template in Chinese, marked `[模板]`: the inbox and the API
    must call it a template, not a model's text."""
    with store.sessions.begin() as s:
        row = s.get(IncidentRow, "flood-1")
        assert row is not None
        row.summary = "西城积水：市民反映1件；首次发现于2026-05-01 08:20（UTC），最近08:20。[模板]"
    drainage = client_for("drainage")
    label = drainage.get("/api/incidents/flood-1").json()["summary_label"]
    assert label["kind"] == "template" and not label["text"].endswith("[模板]")
    inbox = drainage.get("/inbox").text
    row_html = inbox.split('data-incident="flood-1"')[1].split("</tr>")[0]
    assert 'class="label template"' in row_html and "[模板]" not in row_html


def test_a_queued_summary_shows_as_pending_on_the_page_and_in_the_inbox(
    client_for: ClientFor, store: Store
) -> None:
    with store.sessions.begin() as s:
        s.add(
            SummaryRow(
                incident_id="flood-1",
                text="Flooding at the underpass: 2 citizen reports. [template]",
                language="en",
                generated_by="template",
                verified=False,
                note="summary pending: queued for the model",
                facts={},
                updated_at=AT,
            )
        )
    drainage = client_for("drainage")
    label = drainage.get("/api/incidents/flood-1").json()["summary_label"]
    assert label["kind"] == "template" and "summary pending" in label["label"]
    assert "template · summary pending" in drainage.get("/inbox?department=water_drainage").text


def test_accept_confirms_only_the_summary_text_that_was_shown(
    client_for: ClientFor, store: Store
) -> None:
    """The summary was rewritten after the dispatcher's page was drawn: their accept stands,
    but it confirms nothing, as it does when it names no text at all."""
    _store_model_summary(store, "flood-1")
    drainage = client_for("drainage")
    shown = drainage.get("/api/incidents/flood-1").json()["summary_label"]["sha256"]
    with store.sessions.begin() as s:
        row = s.get(SummaryRow, "flood-1")
        assert row is not None
        row.text = "A different text the dispatcher never saw."
    h = {"x-csrf-token": csrf_of(drainage)}
    r = drainage.post(
        "/api/incidents/flood-1/actions",
        json={"action": "accept", "summary_sha256": shown},
        headers=h,
    )
    assert r.status_code == 201
    label = drainage.get("/api/incidents/flood-1").json()["summary_label"]
    assert label["verified"] is False and "not verified" in label["label"]
    with store.sessions.begin() as s:
        s.add(SummaryRow(incident_id="flood-2", text="Water again.", language="en",
                         generated_by="model", model="m", prompt_version="v", verified=False,
                         note="", facts={}, updated_at=AT))  # fmt: skip
    r = drainage.post("/api/incidents/flood-2/actions", json={"action": "accept"}, headers=h)
    assert r.status_code == 201
    assert store.summary("flood-2").verified is False  # type: ignore[union-attr]
