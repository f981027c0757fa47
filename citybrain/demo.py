"""The one-command demo: broker, synthetic city, three pipelines, store and web, then a summary.

Pipelines and the web server run as child processes (`citybrain run ...`, `citybrain web`),
exactly as they would be deployed; the demo starts them, shows progress from the counters
they write to the store, and stops every one of them on the way out, whatever happens.
Unless a router is configured, the demo first trains one on a labelled history of other
simulated runs, so tickets are routed as in a city that has one.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import yaml
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from citybrain.config import Settings
from citybrain.core.evaluation import IncidentFacts, score_against_truth, score_camera_only
from citybrain.errors import CityBrainError
from citybrain.procs import die_with_parent
from citybrain.store import Store
from citybrain.store.summary_queue import summary_counts
from citybrain.streams.broker import EmbeddedBroker, port_open
from citybrain.streams.jobs import JOBS
from citybrain.streams.topics import ensure_topics

log = logging.getLogger(__name__)
# Jobs exit 0 on SIGTERM; uvicorn shuts down gracefully and then re-raises the signal.
_CLEAN_EXIT = (0, -signal.SIGTERM)
# The demo router's history: simulated half-hours under seeds of their own (the live run's seed is
# left out), so the router never trains on the tickets it then routes. About 1,900 tickets:
# a few seconds of training, with the threshold from 3-fold cross-validation.
HISTORY_SEEDS = range(10_000, 10_060)
HISTORY_SPAN_S = 1800.0
HISTORY_FOLDS = 3


def totals(stats: dict[str, dict[str, Any]], job: str) -> dict[str, int]:
    """Sum the counters of every worker of one job (workers are named job@host:pid)."""
    out: dict[str, int] = {}
    for worker, counters in stats.items():
        if worker.split("@", 1)[0] == job:
            for k, v in counters.items():
                if isinstance(v, int) and not isinstance(v, bool):
                    out[k] = out.get(k, 0) + v
    return out


class Demo:
    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        db = workdir / "citybrain.db"
        for f in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            f.unlink(missing_ok=True)  # every demo starts from an empty store, like the broker
        self.settings = settings.model_copy(
            update={
                "store": settings.store.model_copy(update={"url": f"sqlite:///{db}"}),
                "kafka": settings.kafka.model_copy(
                    update={"bootstrap_servers": f"{settings.broker.host}:{settings.broker.port}"}
                ),
                "simulator": settings.simulator.model_copy(
                    update={"ground_truth": workdir / "ground_truth.json"}
                ),
            }
        )
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.console = Console(stderr=True)
        self.stop = threading.Event()
        self.produced: dict[str, int] = {}
        self.sim_error: BaseException | None = None
        self._last_rates: tuple[float, dict[str, int]] = (time.monotonic(), {})

    def run(self, duration_s: float | None = None, drain: bool = False) -> dict[str, Any]:
        s = self.settings
        if port_open(s.web.host, s.web.port):
            raise CityBrainError(f"port {s.web.port} is in use; set web.port or stop that server")
        if s.tickets.router is None:
            self._train_router()
            s = self.settings
        previous = self._trap_signals()
        broker = EmbeddedBroker(s.broker, log_path=self.workdir / "broker.log")
        model_server = self._model_server()
        started = time.monotonic()
        try:
            broker.start()
            if model_server is not None:
                model_server.start()
            ensure_topics(s.kafka)
            store = Store.from_url(s.store.url)
            cfg = self.workdir / "effective.yaml"
            cfg.write_text(yaml.safe_dump(s.model_dump(mode="json"), sort_keys=False))
            for job in JOBS:
                self._spawn(job, ["run", job, "--config", str(cfg)])
            self._spawn("web", ["web", "--config", str(cfg)])
            self.console.print(
                f"[bold]citybrain demo[/]: broker {broker.bootstrap}, dashboard "
                f"http://{s.web.host}:{s.web.port}/, logs in {self.workdir}/"
            )
            sim = threading.Thread(target=self._simulate, name="simulator", daemon=True)
            sim.start()
            self._watch(store, sim, started, duration_s, drain)
            if drain and s.llm.enabled and s.llm.summaries:
                left = None if duration_s is None else duration_s - (time.monotonic() - started)
                self._wait_summaries(store, left)
            elapsed = time.monotonic() - started
        finally:
            self.stop.set()
            exits = self._stop_children()
            broker.stop()
            if model_server is not None:
                model_server.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        summary = self._summary(store, elapsed, exits)
        self._print_summary(summary)
        (self.workdir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
        return summary

    def _train_router(self) -> None:
        """Train the demo's router (deterministic: fixed seeds) and point tickets.router at it,
        so the ticket and dispatch jobs route by rule, then router, then model, then triage."""
        from citybrain.city_loading import load_city
        from citybrain.core.history import Columns
        from citybrain.replay.eval_routing import load_label_map
        from citybrain.sim.labelled_tickets import write_labelled_csv
        from citybrain.text.router_train import train

        s = self.settings
        t0 = time.monotonic()
        city = load_city(s)
        seeds = [seed for seed in HISTORY_SEEDS if seed != s.simulator.seed]
        history, labels = write_labelled_csv(
            city,
            s.simulator.model_copy(update={"duration_s": HISTORY_SPAN_S}),
            self.workdir / "router-history.csv",
            seeds,
        )
        out = self.workdir / "router"
        result = train(
            history,
            Columns("text", "department", "district", "created_at"),
            out,
            city,
            load_label_map(labels, city),
            folds=HISTORY_FOLDS,
            house_numbers=s.tickets.redact_house_numbers,
        )
        m = result.manifest
        self.console.print(
            f"router {m.router_id}: {m.rows} past tickets of {len(seeds)} simulated runs, "
            f"{len(m.labels)} departments, trained in {time.monotonic() - t0:.1f} s -> {out}/"
        )
        self.settings = s.model_copy(
            update={"tickets": s.tickets.model_copy(update={"router": out})}
        )

    def _model_server(self) -> Any:
        """The embedded model server, shared by every dispatch worker (None: not embedded)."""
        llm = self.settings.llm
        if not (llm.enabled and llm.embedded):
            return None
        from citybrain.llm.server import EmbeddedLLMServer

        server = EmbeddedLLMServer(llm, log_path=self.workdir / "llm.log")
        # children use it as a plain endpoint rather than each starting their own; it serves
        # one call at a time, which they are told (it has no /props to say so itself)
        self.settings = self.settings.model_copy(
            update={
                "llm": llm.model_copy(
                    update={
                        "embedded": False,
                        "endpoint": server.endpoint,
                        "parallel": llm.parallel or server.slots,
                    }
                )
            }
        )
        return server

    def _wait_summaries(self, store: Store, left_s: float | None) -> None:
        """After the streams drained: wait, with a progress bar, until the summary queue is
        empty (every incident has its model summary or its final template), a child dies,
        `--duration` is up, or the demo is stopped (Ctrl-C). What is still queued then
        counts as pending."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        from citybrain.store.summary_queue import SummaryQueue

        q = SummaryQueue(store)
        columns = ("summaries", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        until = None if left_s is None else time.monotonic() + max(left_s, 0.0)
        with Progress(*columns, console=self.console, transient=False) as bar:
            task = bar.add_task("summaries", total=None)
            while not self.stop.wait(1.0):
                if until is not None and time.monotonic() >= until:
                    break
                c = q.counts()
                left = c["pending"] + c["working"]
                bar.update(task, total=sum(c.values()), completed=c["done"] + c["failed"])
                if left == 0 or any(p.poll() is not None for p in self.children.values()):
                    break

    def _simulate(self) -> None:
        from citybrain.sim.produce import produce_city

        s = self.settings
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=s.simulator.duration_s)
        try:
            self.produced = produce_city(s, start=start, stop=self.stop)
        except BaseException as e:  # reported in the summary; the demo still stops cleanly
            log.exception("simulator failed")
            self.sim_error = e

    def _spawn(self, name: str, args: list[str]) -> None:
        out = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 (owned by the child)
        self.children[name] = subprocess.Popen(
            [sys.executable, "-m", "citybrain", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the demo only; it stops children in order
            preexec_fn=die_with_parent,
        )

    def _stop_children(self) -> dict[str, int | None]:
        """SIGTERM to all, then wait; returns each child's exit code."""
        for p in self.children.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for name, p in self.children.items():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", name)
                p.kill()
                p.wait(5)
        return {name: p.returncode for name, p in self.children.items()}

    def _trap_signals(self) -> dict[int, Any]:
        def handler(signum: int, _frame: FrameType | None) -> None:
            self.console.print("\nstopping…")
            self.stop.set()

        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, handler)
        return previous

    def _watch(
        self,
        store: Store,
        sim: threading.Thread,
        started: float,
        duration_s: float | None,
        drain: bool,
    ) -> None:
        last: dict[str, Any] = {}
        stable_since: float | None = None
        with Live(self._table(store, started), console=self.console, refresh_per_second=2) as live:
            while not self.stop.wait(1.0):
                elapsed = time.monotonic() - started
                live.update(self._table(store, started))
                dead = [n for n, p in self.children.items() if p.poll() is not None]
                if dead:
                    raise CityBrainError(
                        f"{', '.join(dead)} exited early; see {self.workdir}/<name>.log"
                    )
                if duration_s is not None and elapsed >= duration_s:
                    break
                if drain and not sim.is_alive():
                    if self.sim_error is not None:
                        raise CityBrainError(f"simulator failed: {self.sim_error}")
                    now = self._progress(store)
                    if now == last and self._drained(now):
                        stable_since = stable_since or time.monotonic()
                        if time.monotonic() - stable_since >= 2.0:
                            break
                    else:
                        stable_since = None
                    last = now

    def _progress(self, store: Store) -> dict[str, Any]:
        stats = store.stats()
        return {job: totals(stats, job) for job in JOBS}

    def _drained(self, p: dict[str, dict[str, int]]) -> bool:
        frames, tickets = self.produced.get("frames", 0), self.produced.get("tickets", 0)
        observations = p["vision"].get("out.observations", 0) + p["tickets"].get(
            "out.observations", 0
        )
        return (
            p["vision"].get("consumed", 0) >= frames
            and p["vision"].get("waiting", 0) == 0  # frames held for a batch are not done yet
            and p["tickets"].get("consumed", 0) >= tickets
            and p["incidents"].get("consumed", 0) >= observations
            and p["dispatch"].get("consumed", 0) >= p["incidents"].get("out.incidents", 0)
        )

    def _table(self, store: Store, started: float) -> Group:
        """Progress: streams with rates over the last refresh, then incidents by department."""
        p = self._progress(store)
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

    def _summary(
        self, store: Store, elapsed: float, exits: dict[str, int | None]
    ) -> dict[str, Any]:
        p = self._progress(store)
        dispatched: dict[str, int] = {}
        for d in store.dispatches():
            dispatched[d.department] = dispatched.get(d.department, 0) + 1
        v, tk = p["vision"], p["tickets"]
        frames_ok = v.get("frames", 0) + v.get("dlq", 0) == self.produced.get("frames", -1)
        tickets_ok = tk.get("tickets", 0) + tk.get("dlq", 0) == self.produced.get("tickets", -1)
        return {
            "ok": self.sim_error is None and all(rc in _CLEAN_EXIT for rc in exits.values()),
            "exit_codes": exits,
            "elapsed_s": round(elapsed, 1),
            "produced": self.produced,
            "pipelines": p,
            "frames_accounted": frames_ok,
            "tickets_accounted": tickets_ok,
            "incidents": {
                "total": len(store.incidents(limit=100_000)),
                "open": sum(store.counts_by("department").values()),
            },
            "dispatched": dispatched,
            "frames_per_s": round(v.get("frames", 0) / max(elapsed, 1e-6), 2),
            "tickets_per_s": round(tk.get("tickets", 0) / max(elapsed, 1e-6), 2),
            "ground_truth": str(self.settings.simulator.ground_truth),
            "truth_score": self._score(store),
            "camera_only": self._score_camera_only(store),
            "decided_by": {
                k.split(".", 1)[1]: n
                for k, n in p["dispatch"].items()
                if k.startswith("decided_by.")
            },
            "summary": summary_counts(store),
            "model_calls": {
                k.split(".", 1)[1]: n
                for k, n in p["dispatch"].items()
                if k.startswith("model_calls.")
            },
            "store": self.settings.store.url,
        }

    def _score(self, store: Store) -> dict[str, Any] | None:
        """How the run compares with the simulator's ground truth (None if it wrote none)."""
        path = self.settings.simulator.ground_truth
        if not path.exists():
            return None
        truth = json.loads(path.read_text())
        evidence = store.evidence()
        incident_of = {e.source_id: e.incident_id for e in evidence if e.source == "ticket"}
        cameras = [
            (e.source_id, e.category, e.observed_at) for e in evidence if e.source == "camera"
        ]
        facts = {
            i.id: IncidentFacts(i.category, i.district, i.department)
            for i in store.incidents(limit=1_000_000)
        }
        return score_against_truth(truth, incident_of, facts, cameras).as_dict()

    def _score_camera_only(self, store: Store) -> dict[str, Any] | None:
        """Events only a camera saw: did each become an incident routed right (recall), and is
        each camera-only incident a real event (precision)?"""
        path = self.settings.simulator.ground_truth
        if not path.exists():
            return None
        evidence = store.evidence()
        return score_camera_only(
            json.loads(path.read_text()),
            {
                i.id: IncidentFacts(i.category, i.district, i.department)
                for i in store.incidents(limit=1_000_000)
            },
            [(e.incident_id, e.source_id, e.observed_at) for e in evidence if e.source == "camera"],
            {e.source_id: e.incident_id for e in evidence if e.source == "ticket"},
        ).as_dict()

    def _print_summary(self, s: dict[str, Any]) -> None:
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
        clean = all(rc in _CLEAN_EXIT for rc in codes.values())
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
