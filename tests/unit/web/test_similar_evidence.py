"""Similarity search over camera evidence: the frames' CLIP embeddings, stored with the
evidence, ranked by cosine, and bounded by what the user may see."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from citybrain.core.city import City
from citybrain.store import Store

from .conftest import ClientFor, incident


def _unit(*v: float) -> tuple[float, ...]:
    a = np.asarray(v, np.float32)
    return tuple(float(x) for x in a / np.linalg.norm(a))


def _camera_incident(store: Store, city: City, iid: str, category: str, district: str,
                     at: tuple[float, float], embedding: tuple[float, ...]) -> str:  # fmt: skip
    w, d = incident(city, iid, category, district, at, camera=True)
    obs = w.evidence[0].model_copy(update={"id": f"o-{iid}", "embedding": embedding})
    store.write_incidents([replace(w, evidence=[obs])], [d])
    return obs.id


def test_similar_frames_are_ranked_and_scoped(
    client_for: ClientFor, store: Store, city: City
) -> None:
    water = _camera_incident(
        store, city, "f-a", "flooding", "xicheng", (120.128, 30.287), _unit(1, 0.1, 0, 0)
    )
    _camera_incident(
        store, city, "f-b", "flooding", "xicheng", (120.115, 30.272), _unit(1, 0.2, 0, 0)
    )
    _camera_incident(
        store, city, "f-c", "flooding", "xicheng", (120.13, 30.29), _unit(0.2, 1, 0, 0)
    )
    _camera_incident(
        store, city, "p-a", "pothole", "nanhu", (120.115, 30.248), _unit(1, 0.15, 0, 0)
    )

    op = client_for("operator")
    found = op.get(f"/api/evidence/{water}/similar", params={"k": 3}).json()
    assert [f["incident_id"] for f in found] == ["p-a", "f-b", "f-c"]  # most alike first
    assert found[0]["similarity"] > found[2]["similarity"] and found[0]["similarity"] <= 1.0

    # a drainage dispatcher sees only drainage incidents among the matches
    drainage = client_for("drainage")
    theirs = drainage.get(f"/api/evidence/{water}/similar").json()
    assert [f["incident_id"] for f in theirs] == ["f-b", "f-c"]
    # and cannot start a search from evidence of another department's incident
    roads = client_for("roads")
    assert roads.get(f"/api/evidence/{water}/similar").status_code == 404
    assert op.get("/api/evidence/nope/similar").status_code == 404
    ticket_evidence = "o-flood-1"  # a ticket: no image, no embedding
    r = op.get(f"/api/evidence/{ticket_evidence}/similar")
    assert r.status_code == 422 and "no image embedding" in r.text
