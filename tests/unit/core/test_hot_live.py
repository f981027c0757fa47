"""Live hot issues (core/hot_live.py) over the letters written for the hot-issues tests, fed as
a ticket stream with the real grouping of `citybrain hot-issues` (no mock: it is pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from citybrain.core.hot_issues import HotIssue, Letter
from citybrain.core.hot_live import LiveHotIssue, LiveHotIssues
from citybrain.text.hot_issues import GroupingOptions, find_hot_issues
from tests.unit.text.test_hot_issues import TRUTH, _f1, _letters


@dataclass(frozen=True)
class Params:
    window_s: float = 120 * 86400.0
    max_tickets: int = 2000
    regroup_every_s: float = 86400.0
    trend_s: float = 7 * 86400.0
    max_members_shown: int = 3


def group(letters: Sequence[Letter]) -> list[HotIssue]:
    return find_hot_issues(letters, GroupingOptions(min_residents=3))


def stream() -> list[tuple[str, str, datetime]]:
    """The fixture's letters with a readable time, in time order, as (ticket id, text, time)."""
    out = [(x.id, x.text, x.at.replace(tzinfo=UTC)) for x in _letters() if x.at is not None]
    return sorted(out, key=lambda t: t[2])


def run(tickets: list[tuple[str, str, datetime]], params: Params = Params()) -> tuple[
    LiveHotIssues, list[LiveHotIssue]
]:  # fmt: skip
    live = LiveHotIssues(params, group)
    changes: list[LiveHotIssue] = []
    for tid, text, at in tickets:
        live.add(tid, text, at)
        changes += live.regroup_due()
    return live, changes


def later(tickets: list[tuple[str, str, datetime]], days: float) -> tuple[str, str, datetime]:
    """A ticket after the others: it crosses the boundary that regroups what came before."""
    return (f"clock{days}", "咨询社保卡补办流程", tickets[-1][2] + timedelta(days=days))


def test_paraphrased_tickets_join_and_unrelated_ones_do_not() -> None:
    tickets = stream()
    live, _ = run([*tickets, later(tickets, 1)])
    assert len(live.issues) == len(TRUTH)
    for name, truth in TRUTH.items():
        best = max(_f1(set(i.members), truth) for i in live.issues.values())
        assert best >= 0.7, (name, best, live.issues)  # the bar of the offline command's test
    members = {m for i in live.issues.values() for m in i.members}
    assert not members & {"f7", "f13", "f18", "f19", "f20", "f21"}  # other matters, places
    cuihu = next(i for i in live.issues.values() if "f1" in i.members)
    assert "翠湖湾" in cuihu.title and cuihu.count == 6 and cuihu.residents == 6
    assert cuihu.members[0] == "f1" and len(cuihu.texts) == 3  # max_members_shown


def test_the_same_stream_twice_gives_the_same_issues_and_alerts() -> None:
    tickets = stream()
    tickets = [*tickets, later(tickets, 1)]
    _, first = run(tickets)
    _, second = run(tickets)
    assert first and first == second
    # Regroupings run later, one at a time, work on the tickets fixed when they became due.
    live = LiveHotIssues(Params(), group)
    deferred: list[LiveHotIssue] = []
    for tid, text, at in tickets:
        live.add(tid, text, at)
        deferred += live.regroup_due(limit=1) if tid.startswith("f1") else []
    while live.waiting:
        deferred += live.regroup_due(limit=1)
    assert deferred == first
    # Fed in another order within one period the input to each regrouping is the same.
    _, shuffled = run(tickets[:-1][::-1] + tickets[-1:])
    assert {i.id for i in shuffled} == {i.id for i in first if i.is_open}


def test_an_issue_keeps_its_id_as_it_grows_and_closes_when_its_tickets_leave_the_window() -> None:
    tickets = stream()
    _, changes = run([*tickets, later(tickets, 1)])
    ids_of_cuihu = {i.id for i in changes if "f1" in i.members}
    assert len(ids_of_cuihu) == 1  # one id from its first regrouping to the last
    live, changes = run([*tickets, later(tickets, 1), later(tickets, 400)])
    assert live.issues == {}
    assert {i.id for i in changes if i.status == "closed"} == {
        i.id for i in changes if i.status == "open"
    }
    assert live.size == 1  # the window forgot everything older than window_s


def test_one_senders_copies_never_make_an_issue() -> None:
    t0 = datetime(2021, 7, 1, tzinfo=UTC)
    text = "我是光明小区的住户，光明小区5栋电梯经常停运，老人上下楼困难，物业不管！"
    copies = [(f"c{i}", text if i % 2 else text.replace("！", "。 "), t0 + timedelta(minutes=i))
              for i in range(60)]  # fmt: skip
    live, changes = run([*copies, ("clock", "咨询公积金", t0 + timedelta(days=2))])
    assert changes == [] and live.issues == {}


def test_a_replayed_ticket_changes_nothing() -> None:
    tickets = stream()
    live, _ = run(tickets)
    size = live.size
    for tid, text, at in tickets:
        live.add(tid, text, at)
    assert live.size == size


def test_a_group_split_off_an_issue_gets_an_id_of_its_own() -> None:
    """The issue named by ticket "a" is taken by the group that shares most of it; the group
    that now holds "a" itself must not get the same id (one id, two issues)."""
    t0 = datetime(2021, 7, 1, tzinfo=UTC)
    at = {k: t0 + timedelta(hours=n) for n, k in enumerate("zabcde")}
    script = [[("a", "b", "c")], [("z", "b", "c"), ("a", "d", "e")]]

    def scripted(letters: Sequence[Letter]) -> list[HotIssue]:
        return [
            HotIssue(0, 1.0, "t", "", (at[g[0]], at[g[-1]]), len(g), len(g), 0, g)
            for g in script.pop(0)
        ]

    live = LiveHotIssues(Params(), scripted)
    for k in "abc":
        live.add(k, f"text {k}", at[k])
    live.add("x", "text x", t0 + timedelta(days=1))
    (first,) = live.regroup_due()
    for k in "zde":
        live.add(k, f"text {k}", at[k])
    live.add("y", "text y", t0 + timedelta(days=2))
    second = live.regroup_due()
    assert len({i.id for i in second}) == 2
    assert {i.id: i.members for i in second}[first.id] == ("z", "b", "c")
