"""What the demo shows: the live progress of the streams, the summary queue's progress bar
and the summary table at the end. It only reads counters; it decides nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from citybrain.demo.report import CLEAN_EXIT, progress
from citybrain.store import Store


class LiveView:
    """The demo's screen (standard error), with the rates of the last refresh."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._last_rates: tuple[float, dict[str, int]] = (time.monotonic(), {})

    @contextmanager
    def streams(self, store: Store, started: float) -> Iterator[Callable[[], None]]:
        """The progress tables, live while the block runs; call what it yields to refresh."""
        with Live(self.table(store, started), console=self.console, refresh_per_second=2) as live:
            yield lambda: live.update(self.table(store, started))

    @contextmanager
    def summaries(self) -> Iterator[Callable[[int, int], None]]:
        """The summary queue's progress bar; call what it yields with (total, completed)."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        columns = ("summaries", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=False) as bar:
            task = bar.add_task("summaries", total=None)
            yield lambda total, completed: bar.update(task, total=total, completed=completed)

    def table(self, store: Store, started: float) -> Group:
        """Progress: streams with rates over the last refresh, then incidents by department."""
        p = progress(store)
        now = time.monotonic()
        v, tk, inc = p["vision"], p["tickets"], p["incidents"]
        done = {"frames": v.get("frames", 0), "tickets": tk.get("tickets", 0)}
        last_t, last = self._last_rates
        span = max(now - last_t, 1e-6)
        rate = {k: (n - last.get(k, 0)) / span for k, n in done.items()}
        self._last_rates = (now, done)

        streams = Table(title=f"citybrain demo — {now - started:.0f} s")
        for col in ("stream", "in", "processed", "dead-lettered", "per second"):
            streams.add_column(col, justify="left" if col == "stream" else "right")
        for name, counters in (("frames", v), ("tickets", tk)):
            streams.add_row(
                name,
                str(counters.get("consumed", 0)),
                str(done[name]),
                str(counters.get("dlq", 0)),
                f"{rate[name]:.1f}",
            )
        streams.add_row("observations", str(inc.get("consumed", 0)), "", str(inc.get("dlq", 0)), "")
        dsp = p["dispatch"]
        streams.add_row("incidents", str(dsp.get("consumed", 0)), "", str(dsp.get("dlq", 0)), "")

        open_by_department = store.counts_by("department")
        dispatched = {k.split(".", 1)[1]: n for k, n in dsp.items() if k.startswith("dispatched.")}
        departments = Table()
        for col in ("department", "open incidents", "dispatched"):
            departments.add_column(col, justify="left" if col == "department" else "right")
        for dept in sorted(set(open_by_department) | set(dispatched)):
            departments.add_row(
                dept, str(open_by_department.get(dept, 0)), str(dispatched.get(dept, 0))
            )
        departments.add_row(
            "all", str(sum(open_by_department.values())), str(sum(dispatched.values()))
        )
        return Group(streams, departments)

    def print_summary(self, s: dict[str, Any]) -> None:
        """The run's summary (`report.run_summary`) as one table."""
        t = Table(title="citybrain demo — summary")
        t.add_column("what")
        t.add_column("value", justify="right")
        t.add_row("elapsed", f"{s['elapsed_s']} s")
        t.add_row(
            "frames produced / processed / DLQ",
            "{} / {} / {}".format(
                s["produced"].get("frames", 0),
                s["pipelines"]["vision"].get("frames", 0),
                s["pipelines"]["vision"].get("dlq", 0),
            ),
        )
        t.add_row(
            "tickets produced / processed / DLQ",
            "{} / {} / {}".format(
                s["produced"].get("tickets", 0),
                s["pipelines"]["tickets"].get("tickets", 0),
                s["pipelines"]["tickets"].get("dlq", 0),
            ),
        )
        t.add_row("incidents (open)", f"{s['incidents']['total']} ({s['incidents']['open']})")
        for dept, n in sorted(s["dispatched"].items()):
            t.add_row(f"dispatched → {dept}", str(n))
        t.add_row("frames/s, tickets/s", f"{s['frames_per_s']}, {s['tickets_per_s']}")
        for how, n in sorted(s.get("decided_by", {}).items()):
            t.add_row(f"routing decisions by {how}", str(n))
        sc = s.get("summary") or {}
        if sc:
            t.add_row(
                "summaries: model / template / pending",
                f"{sc['model']} / {sc['template']} / {sc['pending']}",
            )
        for what, n in sorted(s.get("model_calls", {}).items()):
            t.add_row(f"model calls {what}", str(n))
        codes = s["exit_codes"]
        clean = all(rc in CLEAN_EXIT for rc in codes.values())
        t.add_row("processes stopped cleanly", "yes" if clean else json.dumps(codes))
        score = s.get("truth_score")
        if score:
            t.add_row(
                "reported events → one incident, right department",
                f"{score['one_correct_incident']} / {score['reported_events']}",
            )
            t.add_row(
                "camera events seen by their camera",
                f"{score['camera_events_seen']} / {score['camera_events']}",
            )
            cam = s.get("camera_only") or {}
            if cam:
                t.add_row(
                    "camera-only events → incident, right department",
                    f"{cam['routed_right']} / {cam['events']} (precision {cam['precision']:.2f})",
                )
            for problem in score["problems"][:10]:
                t.add_row("  ground-truth mismatch", problem)
        self.console.print(t)
