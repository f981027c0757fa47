"""Hot-spot alerts as the dashboard and the API show them."""

from __future__ import annotations

from typing import Any

from citybrain.store.models import HotspotRow


def hotspot_json(h: HotspotRow) -> dict[str, Any]:
    return {
        "id": h.id,
        "category": h.category,
        "district": h.district,
        "cell": h.cell,
        "opened_at": h.opened_at.isoformat(),
        "updated_at": h.updated_at.isoformat(),
        "count": h.count,
        "baseline": h.baseline,
        "status": h.status,
        "detail": h.detail,
    }
