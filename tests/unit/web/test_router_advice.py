"""The router's reason, shown where a dispatcher decides: top-3 departments with
probabilities and the most similar past tickets, in the inbox, the incident page and the API."""

from __future__ import annotations

from citybrain.core.city import City
from citybrain.core.facts import key_facts
from citybrain.core.messages import (
    GeneratedLabel,
    LabelScore,
    RouterAdvice,
    RoutingDecision,
    SimilarTicket,
)
from citybrain.store import Store
from citybrain.store.mappers import incident_from_row
from citybrain.store.model_step import Decision, DispatchStep

from .conftest import ClientFor

ADVICE = RouterAdvice(
    router="abc123def456",
    kind="department",
    top=(
        LabelScore(label="water_drainage", p=0.87),
        LabelScore(label="city_roads", p=0.08),
        LabelScore(label="hotline_triage", p=0.03),
    ),
    similar=(
        SimilarTicket(text="新华路地道积水，车过不去", label="water_drainage", similarity=0.71),
        SimilarTicket(text="和平路井盖松动，有响声", label="city_roads", similarity=0.64),
    ),
    auto_threshold=0.8,
)


def _decide(store: Store, city: City) -> None:
    routing = RoutingDecision(
        department="water_drainage",
        decided_by="router",
        reason="router: water_drainage at 0.87 >= auto-dispatch threshold 0.80",
        advice=ADVICE,
    )
    found = store.incident("flood-1")
    assert found is not None
    inc = incident_from_row(found[0], ("o-flood-1",))
    step = DispatchStep(
        decisions=[
            Decision("flood-1", routing, "summary", GeneratedLabel(generated_by="template"),
                     key_facts(city, inc, []))
        ]
    )  # fmt: skip
    store.write_dispatch_step(step)


def test_inbox_page_and_api_show_the_routers_reason(
    client_for: ClientFor, store: Store, city: City
) -> None:
    _decide(store, city)
    drainage = client_for("drainage")
    inbox = drainage.get("/inbox").text
    assert "routed by router" in inbox and "Drainage Office 87%" in inbox
    assert "新华路地道积水" in inbox and "similarity 0.71" in inbox
    page = drainage.get("/incidents/flood-1", headers={"accept": "text/html"}).text
    assert "router abc123def456" in page and "Municipal Roads Office 8%" in page
    assert "the router chose Drainage Office at 0.87 (auto-dispatch from 0.80)" in page
    zh = drainage.get("/incidents/flood-1", headers={"accept-language": "zh"}).text
    routing = zh.split('id="routing">', 1)[1].split("</p>", 1)[0]
    assert "路由模型选择排水管理处（0.87，自动派单阈值0.80）" in routing and "router" not in routing
    api = drainage.get("/api/incidents/flood-1").json()["routing"]
    assert api["decided_by"] == "router" and api["advice"]["top"][0]["p"] == 0.87
    assert api["advice"]["similar"][0]["label"] == "water_drainage"
    # an operator sees the probabilities, not citizens' words
    seen = client_for("operator").get("/api/incidents/flood-1").json()["routing"]["advice"]
    assert seen["top"] and seen["similar"] == []


def test_a_dispatcher_reads_only_their_own_departments_past_tickets(
    client_for: ClientFor, store: Store, city: City
) -> None:
    """The roads office's past ticket is not the drainage dispatcher's to read: not in the
    inbox, the incident page or the API. An admin reads both; an operator neither."""
    _decide(store, city)
    drainage = client_for("drainage")
    for text in (
        drainage.get("/inbox").text,
        drainage.get("/incidents/flood-1", headers={"accept": "text/html"}).text,
        drainage.get("/api/incidents/flood-1").text,
        drainage.get("/api/incidents").text,
    ):
        assert "新华路地道积水" in text and "和平路井盖松动" not in text
    admin = client_for("admin").get("/api/incidents/flood-1").json()["routing"]["advice"]
    assert [t["label"] for t in admin["similar"]] == ["water_drainage", "city_roads"]
    admin_page = client_for("admin").get("/inbox", params={"department": "water_drainage"})
    assert "和平路井盖松动" in admin_page.text
