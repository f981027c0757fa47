"""Live hot issues as the dashboard and the API show them.

What every operator sees: title, place, count, residents, the trend (members in the last
`hot_issues.trend_s`) and the time range. The member tickets (ids and redacted texts) only for
roles that may read ticket text (`Principal.sees_ticket_text`); the dashboard panel is shared by
every viewer of one scope, so it never carries them and fetches them from the API on demand."""

from __future__ import annotations

from typing import Any

from citybrain.store.models import HotIssueRow


def hot_issue_json(h: HotIssueRow, with_members: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": h.id,
        "title": h.title,
        "place": h.place,
        "status": h.status,
        "opened_at": h.opened_at.isoformat(),
        "updated_at": h.updated_at.isoformat(),
        "time_range": [h.first_at.isoformat(), h.last_at.isoformat()],
        "count": h.count,
        "residents": h.residents,
        "recent": h.recent,
        "hotness": h.hotness,
    }
    if with_members:
        out["members"] = list(h.members)
        shown = h.members[: len(h.texts)]  # texts are kept for the first members only
        out["texts"] = [{"ticket_id": i, "text": t} for i, t in zip(shown, h.texts, strict=True)]
    return out
