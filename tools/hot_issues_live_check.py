"""Live hot issues over a stream: do the issues planted among real letters come out whole, and
keep one id from the regrouping that first finds them to the last?

    .venv/bin/python tools/hot_issues_live_check.py [--letters ../shared/datasets/letters_cn/letters.csv]
        [--real 1800] [--days 14] [--regroup-hours 24] [--seed 0]

The first `--real` real letters and the three issues of `tools/hot_issues_check.py` (written for
that check, 30 % of them without the estate's name) are given times spread evenly, in a shuffled
order, over `--days` days and streamed through `core.hot_live` with the pipeline's grouping and
defaults (window 14 days, 2,000 tickets, 3 residents). Prints, per planted issue, the best
membership F1 among the open issues at the end, the day a regrouping first found it, whether
the id it got then is the id it has at the end, and how many other ids its letters carried for a
while (a few unnamed letters grouped apart, later merged into the issue and closed); and the
regroupings' seconds.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling script

from hot_issues_check import planted

from citybrain.config.hot_issues import HotIssueSettings
from citybrain.core.hot_issues import HotIssue, Letter, clean_letters
from citybrain.core.hot_live import LiveHotIssue, LiveHotIssues
from citybrain.text.hot_issues import GroupingOptions, find_hot_issues
from citybrain.text.hot_issues_io import read_letters


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--letters", type=Path, default=Path("../shared/datasets/letters_cn/letters.csv")
    )
    ap.add_argument("--real", type=int, default=1800)
    ap.add_argument("--days", type=float, default=14.0)
    ap.add_argument("--regroup-hours", type=float, default=24.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows, _ = read_letters(args.letters, ["id", "subject", "detail", "created"])
    real, _ = clean_letters(
        rows[: args.real], "id", ["subject", "detail"], "created", None, None, datetime.now()
    )
    rnd = random.Random(args.seed)
    plants = planted(rnd, 0.3)
    texts = [(f"r{i}", x.text) for i, x in enumerate(real)]
    texts += [(x.id, x.text) for v in plants.values() for x in v]
    rnd.shuffle(texts)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    step = timedelta(days=args.days) / len(texts)
    settings = HotIssueSettings(regroup_every_s=args.regroup_hours * 3600)
    options = GroupingOptions(min_residents=settings.min_residents)
    seconds: list[float] = []

    def group(letters: Sequence[Letter]) -> list[HotIssue]:
        start = time.perf_counter()
        out = find_hot_issues(letters, options, top=settings.max_issues)
        seconds.append(time.perf_counter() - start)
        return out

    live = LiveHotIssues(settings, group)
    alerts: list[LiveHotIssue] = []
    for n, (tid, text) in enumerate(texts):
        live.add(tid, text, t0 + n * step)
        alerts += live.regroup_due()
    live.add("clock", "咨询社保卡补办流程", t0 + timedelta(days=args.days + 1))
    alerts += live.regroup_due()
    print(f"{len(texts)} tickets, {len(seconds)} regroupings, {len(alerts)} alerts, "
          f"{len(live.issues)} open issues at the end")  # fmt: skip
    print(f"regrouping seconds: mean {sum(seconds) / len(seconds):.1f}, max {max(seconds):.1f}")
    print("| issue | letters | best F1 at the end | first found (day) | id held | fragment ids |")
    print("|---|---:|---:|---:|---|---:|")
    for tag, letters in plants.items():
        truth = {x.id for x in letters}

        def f1(i: LiveHotIssue, truth: set[str] = truth) -> float:
            return 2 * len(set(i.members) & truth) / (i.count + len(truth))

        best = max(live.issues.values(), key=f1, default=None)
        mine = [a for a in alerts if len(set(a.members) & truth) * 2 > a.count]
        if best is None or not mine:
            print(f"| {tag} | {len(truth)} | 0.00 | - | - | - |")
            continue
        day = (mine[0].updated_at - t0).total_seconds() / 86400
        held = mine[0].id == best.id  # the id of the first regrouping that found it
        fragments = len({a.id for a in mine} - {best.id})
        print(f"| {tag} | {len(truth)} | {f1(best):.2f} | {day:.0f} | {'yes' if held else 'no'} "
              f"| {fragments} |")  # fmt: skip


if __name__ == "__main__":
    main()
