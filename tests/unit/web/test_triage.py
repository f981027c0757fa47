"""The triage view: incidents without category or place, the tickets' place words, and one
form that sets both and routes the incident, feeding the router's feedback."""

from __future__ import annotations

from dataclasses import replace

from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.place_words import place_words
from citybrain.store import IncidentWrite, Store
from citybrain.store.feedback import reassigned_examples

from .conftest import ClientFor, csrf_of, incident


def test_place_words_name_the_districts_they_could_mean(city: City) -> None:
    d = city.districts[0]
    words = place_words(city, f"垃圾满了，就在{d.name_zh}那边")
    assert [(w.word, w.kind, w.districts) for w in words] == [(d.name_zh, "district", (d.id,))]
    lm = city.landmarks[0]
    found = place_words(city, f"Rubbish near {lm.name.upper()} again")
    assert found[0].kind == "landmark" and found[0].word == lm.name.upper()
    assert place_words(city, "nothing here") == []


def test_triage_lists_unplaced_and_one_click_routes_them(
    client_for: ClientFor, city: City, store: Store
) -> None:
    lm = city.landmarks[0]
    vague, d = incident(city, "what-1", "noise", "xicheng", (120.128, 30.287), text="有点问题")
    items = [
        incident(city, "lost-1", "overflowing_bin", None, None, text=f"{lm.name_zh}旁边垃圾桶满了"),
        (IncidentWrite(replace(vague.incident, category=UNCLASSIFIED), vague.evidence), d),
    ]
    store.write_incidents([w for w, _ in items], [d for _, d in items])
    admin = client_for("admin")
    page = admin.get("/triage")
    assert page.status_code == 200
    assert 'data-incident="lost-1"' in page.text and 'data-incident="what-1"' in page.text
    assert 'data-incident="flood-1"' not in page.text  # classified and placed: not here
    assert "<mark" in page.text and lm.name_zh in page.text  # the place word is marked
    # the landmark's district is preselected for the unplaced one
    at = city.district_at(lm.lon, lm.lat)
    assert at is not None and f'<option value="{at.id}" selected>' in page.text
    csrf = csrf_of(admin, "/triage")
    r = admin.post(
        "/incidents/lost-1/triage",
        data={"csrf_token": csrf, "category": "overflowing_bin", "district": at.id},
    )
    assert r.status_code == 303 and r.headers["location"] == "/triage?done=reassign"
    moved = admin.get("/api/incidents/lost-1").json()
    assert moved["department"] != "hotline_triage" and moved["department"] in city.department_by_id
    assert any(e.incident_id == "lost-1" for e in reassigned_examples(store))  # router learns
    assert "triage: overflowing_bin in" in admin.get("/api/feedback?incident_id=lost-1").text
    # handled: it leaves the list (it came back before, and the person's choice with it)
    left = admin.get("/triage").text
    assert 'data-incident="lost-1"' not in left and 'data-incident="what-1"' in left
    # bad choices are refused and change nothing
    for bad in ({"category": "nope", "district": at.id}, {"category": "pothole", "district": ""}):
        r = admin.post("/incidents/what-1/triage", data={"csrf_token": csrf, **bad})
        assert r.status_code == 422
    assert admin.post("/incidents/what-1/triage", data={"category": "pothole"}).status_code == 403
    # a dispatcher of another department cannot reach it
    roads = client_for("roads")
    assert 'data-incident="what-1"' not in roads.get("/triage").text
