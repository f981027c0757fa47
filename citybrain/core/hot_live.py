"""Live hot issues: the grouping of `citybrain hot-issues` kept over the ticket stream.

The same grouping (passed in as `Grouper`; the one in `citybrain.text.hot_issues`) runs again
over a bounded window of recent tickets each time event time crosses a `regroup_every_s`
boundary, not on every ticket: grouping is a whole-window computation. Which tickets a
regrouping sees is fixed in record order (the tickets received before the one that crossed the
boundary, at most `window_s` older than the boundary and the `max_tickets` most recent of them),
and they go to the grouping sorted by (time, id): replaying a stream makes the same regroupings,
the same groups and the same alerts, however the records were batched or however fast.

Ids outlive regroupings: a group takes the id of the open issue it shares the most tickets with
(ties by id; groups in order of their earliest ticket); a group that shares none, or whose issue
an earlier group took, is named by its earliest ticket (`ids.hot_issue_id`).
An open issue that no group claims is closed. Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from citybrain.core.hot_issues import HotIssue, Letter
from citybrain.core.ids import hot_issue_id
from citybrain.core.params import HotIssueParams

Grouper = Callable[[Sequence[Letter]], list[HotIssue]]


@dataclass(frozen=True)
class LiveHotIssue:
    id: str
    title: str
    place: str
    status: str  # open | closed
    opened_at: datetime  # the regrouping boundary that first found it (event time)
    updated_at: datetime
    first_at: datetime
    last_at: datetime
    count: int  # member tickets
    residents: int  # distinct voices among them
    recent: int  # members within `trend_s` of the regrouping boundary: the trend
    hotness: float
    members: tuple[str, ...]  # ticket ids, earliest first
    texts: tuple[str, ...] = ()  # redacted texts of the first `max_members_shown` members

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def same_as(self, other: LiveHotIssue) -> bool:
        """Nothing a reader of the alerts would see has changed."""
        return (
            self.status == other.status
            and self.members == other.members
            and self.title == other.title
            and self.recent == other.recent
        )


@dataclass(frozen=True)
class _Ticket:
    seq: int
    letter: Letter


class LiveHotIssues:
    def __init__(self, params: HotIssueParams, grouper: Grouper) -> None:
        self.params = params
        self.grouper = grouper
        self.issues: dict[str, LiveHotIssue] = {}  # open ones
        self._tickets: dict[str, _Ticket] = {}
        self._seq = 0
        self._period: int | None = None  # regrouping period of the newest ticket
        self._due: list[tuple[int, datetime]] = []  # (tickets received before, boundary)

    def load(self, issues: Iterable[LiveHotIssue]) -> None:
        """Open issues from the store, so a restart keeps their ids."""
        self.issues = {i.id: i for i in issues if i.is_open}

    def add(self, ticket_id: str, text: str, at: datetime, restoring: bool = False) -> None:
        """Keep one ticket; a replayed ticket id changes nothing. `restoring` (tickets reloaded
        from the store after a restart) crosses no boundary: the next regrouping is at the next
        boundary the live stream crosses, not one for every period the store holds."""
        if ticket_id in self._tickets or not text.strip():
            return
        period = self._period_of(at)
        if self._period is not None and period > self._period and not restoring:
            self._due.append((self._seq, self._boundary(period)))
        if self._period is None or period > self._period:
            self._period = period
        self._tickets[ticket_id] = _Ticket(self._seq, Letter(ticket_id, text, at, 0))
        self._seq += 1

    @property
    def size(self) -> int:
        return len(self._tickets)

    @property
    def waiting(self) -> int:
        """Regroupings due and not run yet."""
        return len(self._due)

    def regroup_due(self, limit: int | None = None) -> list[LiveHotIssue]:
        """Run the regroupings whose boundary has been crossed, the oldest first and at most
        `limit` of them (the rest wait: each works on the tickets fixed when it became due, so
        running it later gives the same result); the issues each opened, changed or closed."""
        out: list[LiveHotIssue] = []
        run, self._due = self._due[:limit], self._due[len(self._due[:limit]) :]
        for before, boundary in run:
            out += self._regroup(before, boundary)
        return out

    def _regroup(self, before: int, boundary: datetime) -> list[LiveHotIssue]:
        since = boundary - timedelta(seconds=self.params.window_s)
        self._prune(since)
        window = sorted(
            (t.letter for t in self._tickets.values() if t.seq < before and t.letter.at),
            key=lambda x: (x.at, x.id),
        )[-self.params.max_tickets :]
        groups = self.grouper(window) if len(window) >= 2 else []
        by_id = {x.id: x for x in window}
        trend_since = boundary - timedelta(seconds=self.params.trend_s)
        claimed: dict[str, LiveHotIssue] = {}
        ordered = sorted(groups, key=lambda g: min((_at(by_id[i]), i) for i in g.ids))
        for g in ordered:
            members = tuple(sorted(g.ids, key=lambda i: (_at(by_id[i]), i)))
            iid = self._claim(set(members), claimed) or _fresh_id(members, claimed)
            prev = self.issues.get(iid)
            times = [_at(by_id[i]) for i in members]
            claimed[iid] = LiveHotIssue(
                id=iid,
                title=g.title,
                place=g.place,
                status="open",
                opened_at=prev.opened_at if prev else boundary,
                updated_at=boundary,
                first_at=min(times),
                last_at=max(times),
                count=g.count,
                residents=g.residents,
                recent=sum(t >= trend_since for t in times),
                hotness=round(g.hotness, 3),
                members=members,
                texts=tuple(by_id[i].text for i in members[: self.params.max_members_shown]),
            )
        changed = [i for i in claimed.values() if i.id not in self.issues or
                   not i.same_as(self.issues[i.id])]  # fmt: skip
        closed = [
            replace(i, status="closed", updated_at=boundary)
            for i in self.issues.values()
            if i.id not in claimed
        ]
        self.issues = claimed
        return sorted(changed, key=lambda i: i.id) + sorted(closed, key=lambda i: i.id)

    def _claim(self, members: set[str], claimed: dict[str, LiveHotIssue]) -> str | None:
        """The open issue sharing the most tickets with a new group, if any is still free."""
        best = [
            (len(members & set(i.members)), i.id)
            for i in self.issues.values()
            if i.id not in claimed
        ]
        best = [b for b in best if b[0] > 0]
        if not best:
            return None
        return min(best, key=lambda b: (-b[0], b[1]))[1]

    def _prune(self, since: datetime) -> None:
        """Forget tickets older than the window; keep at most a few times `max_tickets`."""
        old = [k for k, t in self._tickets.items() if t.letter.at and t.letter.at < since]
        for k in old:
            del self._tickets[k]
        excess = len(self._tickets) - 4 * self.params.max_tickets
        if excess > 0:
            for k in sorted(self._tickets, key=lambda k: self._tickets[k].seq)[:excess]:
                del self._tickets[k]

    def _period_of(self, at: datetime) -> int:
        return math.floor(at.astimezone(UTC).timestamp() / self.params.regroup_every_s)

    def _boundary(self, period: int) -> datetime:
        return datetime.fromtimestamp(period * self.params.regroup_every_s, UTC)


def _fresh_id(members: Sequence[str], claimed: dict[str, LiveHotIssue]) -> str:
    """Named by the earliest ticket, or the next one when a group split off an issue that took
    this regrouping's id already (that issue was named by the same ticket)."""
    ids = (hot_issue_id(m) for m in members)
    return next((i for i in ids if i not in claimed), hot_issue_id("+".join(members)))


def _at(x: Letter) -> datetime:
    assert x.at is not None  # the window holds only tickets with a time
    return x.at
