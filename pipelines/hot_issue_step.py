"""The incident job's hot-issue part: tickets whose text describes one specific problem.

Every ticket with text joins the window of `core.hot_live`, located or not and classified or
not (forty residents writing about one mixing plant are one issue even where the geocoder found
no point). The window is regrouped with the grouping of `citybrain hot-issues` each time event
time crosses a `hot_issues.regroup_every_s` boundary; the issues that opened, changed or closed
are upserted into the store's `hot_issues` table (what the dashboard reads) and sent to
`<prefix>.alerts` through the job's outbox, keyed by their stable id.

After a restart or rebalance the open issues come back from the store (so their ids hold) and
the window is rebuilt from the stored ticket evidence. With several incident workers each groups
the tickets its partitions bring (observations are keyed by geo cell; unlocated tickets share
one key): an issue whose tickets land on two workers is seen by each in part.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from citybrain.config import Settings
from citybrain.core.hot_issues import HotIssue, Letter
from citybrain.core.hot_live import LiveHotIssue, LiveHotIssues
from citybrain.core.messages import Observation
from citybrain.store import Store
from citybrain.store.outbox import Outbox
from citybrain.streams.records import Output
from citybrain.streams.topics import Topics
from citybrain.text.hot_issues import GroupingOptions, find_hot_issues


class HotIssueStep:
    def __init__(
        self, settings: Settings, topics: Topics, store: Store, stats: Counter[str]
    ) -> None:
        self.settings = settings.hot_issues
        self.topics = topics
        self.store = store
        self.stats = stats
        self._options = GroupingOptions(min_residents=self.settings.min_residents)
        self.live = LiveHotIssues(self.settings, self._group)
        self._pending: dict[str, LiveHotIssue] = {}

    def _group(self, letters: Sequence[Letter]) -> list[HotIssue]:
        self.stats["hot_issue_regroupings"] += 1
        return find_hot_issues(letters, self._options, top=self.settings.max_issues)

    def reload(self, lookback_s: float) -> None:
        """Open issues from the store, and the window from the stored ticket evidence."""
        self.live = LiveHotIssues(self.settings, self._group)
        self._pending.clear()
        self.live.load(self.store.open_hot_issues())
        since = datetime.now(UTC) - timedelta(seconds=lookback_s + self.settings.window_s)
        for ev, _district in self.store.ticket_evidence_since(since):
            if ev.text:
                self.live.add(ev.source_id, ev.text, ev.observed_at, restoring=True)

    def add(self, obs: Observation) -> None:
        if self.settings.enabled and obs.source == "ticket" and obs.text:
            self.live.add(obs.source_id, obs.text, obs.observed_at)

    def flush(self) -> list[Output]:
        """Run the regroupings that are due; the alerts for what they changed."""
        self.stats["hot_issue_window"] = self.live.size  # gauges: tickets held,
        out: list[Output] = []
        for issue in self.live.regroup_due(self.settings.max_regroups_per_poll):
            self.stats["hot_issues_closed" if not issue.is_open else "hot_issue_changes"] += 1
            out += self._emit(issue)
        self.stats["hot_issue_regroups_waiting"] = self.live.waiting  # and work not done yet
        return out

    def sink(self, outbox: Outbox | None = None, messages: Sequence[Output] = ()) -> None:
        """Store the issues, with the messages announcing them (in `outbox`, same transaction)."""
        if self._pending or messages:
            self.store.write_hot_issues(self._pending.values(), outbox, messages)
            self._pending.clear()

    def _emit(self, issue: LiveHotIssue) -> list[Output]:
        self._pending[issue.id] = issue
        body = {"type": "hot_issue", **alert_fields(issue)}
        return [
            Output(
                topic=self.topics.alerts,
                key=issue.id.encode(),
                value=json.dumps(body, ensure_ascii=False).encode(),
                headers=[("idempotency-key", _version(issue).encode())],
            )
        ]


def _version(issue: LiveHotIssue) -> str:
    """One key per regrouping that changed the issue: a replay sends the same keys."""
    return f"{issue.id}:{issue.updated_at.isoformat()}:{issue.status}"


def alert_fields(issue: LiveHotIssue) -> dict[str, object]:
    """What an alert says of an issue: no ticket texts (the alerts topic is city-wide)."""
    return {
        "id": issue.id,
        "title": issue.title,
        "place": issue.place,
        "status": issue.status,
        "opened_at": issue.opened_at.isoformat(),
        "updated_at": issue.updated_at.isoformat(),
        "time_range": [issue.first_at.isoformat(), issue.last_at.isoformat()],
        "count": issue.count,
        "residents": issue.residents,
        "recent": issue.recent,
        "hotness": issue.hotness,
    }
