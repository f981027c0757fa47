"""The camera wall's reads: each camera's most recent evidence, newest first."""

from __future__ import annotations

from sqlalchemy import select

from citybrain.store.models import EvidenceRow
from citybrain.store.repository import Store


def recent_camera_evidence(
    store: Store, camera_ids: list[str], per_camera: int = 5
) -> dict[str, list[EvidenceRow]]:
    """Camera id -> its newest `per_camera` evidence rows (one indexed query per camera: a
    city's wall is tens of cameras, and each query reads a handful of rows)."""
    out: dict[str, list[EvidenceRow]] = {}
    with store.sessions() as s:
        for cam in camera_ids:
            q = (
                select(EvidenceRow)
                .where(EvidenceRow.source_id == cam, EvidenceRow.source == "camera")
                .order_by(EvidenceRow.observed_at.desc())
                .limit(per_camera)
            )
            out[cam] = list(s.scalars(q).all())
    return out
