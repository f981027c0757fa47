"""One demo run, start to summary: the store, broker and settings it runs on, the router it
trains first, the simulator thread, and when to stop (a child died, time up, drained)."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from citybrain.config import Settings
from citybrain.demo.processes import (
    Supervisor,
    embedded_model_server,
    restore_signals,
    trap_signals,
)
from citybrain.demo.report import drained, progress, run_summary
from citybrain.demo.view import LiveView
from citybrain.errors import CityBrainError
from citybrain.store import Store
from citybrain.streams.broker import EmbeddedBroker, port_open
from citybrain.streams.jobs import JOBS
from citybrain.streams.topics import ensure_topics

log = logging.getLogger("citybrain.demo")  # the demo logs as one
# The demo router's history: simulated half-hours under seeds of their own (the live run's seed is
# left out), so the router never trains on the tickets it then routes. About 1,900 tickets:
# a few seconds of training, with the threshold from 3-fold cross-validation.
HISTORY_SEEDS = range(10_000, 10_060)
HISTORY_SPAN_S = 1800.0
HISTORY_FOLDS = 3


class Demo:
    """A demo in WORKDIR (store, logs, router, summary) on its own broker; `run` stops it all."""

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
                # The demo's own web: its documented accounts sign in (web/doors.py).
                "web": settings.web.model_copy(update={"demo_mode": True}),
            }
        )
        self.procs = Supervisor(workdir)
        self.console = Console(stderr=True)
        self.view = LiveView(self.console)
        self.stop = threading.Event()
        self.produced: dict[str, int] = {}
        self.sim_error: BaseException | None = None

    def run(self, duration_s: float | None = None, drain: bool = False) -> dict[str, Any]:
        s = self.settings
        if port_open(s.web.host, s.web.port):
            raise CityBrainError(f"port {s.web.port} is in use; set web.port or stop that server")
        if s.tickets.router is None:
            self._train_router()
            s = self.settings
        previous = trap_signals(self._on_signal)
        broker = EmbeddedBroker(s.broker, log_path=self.workdir / "broker.log")
        model_server, self.settings = embedded_model_server(self.settings, self.workdir)
        started = time.monotonic()
        try:
            self.procs.start_services(broker, model_server)
            ensure_topics(s.kafka)
            store = Store.open(s.store)
            cfg = self.workdir / "effective.yaml"
            cfg.write_text(yaml.safe_dump(s.model_dump(mode="json"), sort_keys=False))
            for job in JOBS:
                self.procs.spawn(job, ["run", job, "--config", str(cfg)])
            self.procs.spawn("web", ["web", "--config", str(cfg)])
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
            exits = self.procs.stop()
            restore_signals(previous)
        summary = run_summary(store, self.settings, self.produced, self.sim_error, elapsed, exits)
        self.view.print_summary(summary)
        (self.workdir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
        return summary

    def _on_signal(self) -> None:
        self.console.print("\nstopping…")
        self.stop.set()

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

    def _wait_summaries(self, store: Store, left_s: float | None) -> None:
        """After the streams drained: wait, with a progress bar, until the summary queue is
        empty (every incident has its model summary or its final template), a child dies,
        `--duration` is up, or the demo is stopped (Ctrl-C). What is still queued then
        counts as pending."""
        from citybrain.store.summary_queue import SummaryQueue

        q = SummaryQueue(store)
        until = None if left_s is None else time.monotonic() + max(left_s, 0.0)
        with self.view.summaries() as show:
            while not self.stop.wait(1.0):
                if until is not None and time.monotonic() >= until:
                    break
                c = q.counts()
                left = c["pending"] + c["working"]
                show(sum(c.values()), c["done"] + c["failed"])
                if left == 0 or self.procs.dead():
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
        with self.view.streams(store, started) as refresh:
            while not self.stop.wait(1.0):
                elapsed = time.monotonic() - started
                refresh()
                dead = self.procs.dead()
                if dead:
                    raise CityBrainError(
                        f"{', '.join(dead)} exited early; see {self.workdir}/<name>.log"
                    )
                if duration_s is not None and elapsed >= duration_s:
                    break
                if drain and not sim.is_alive():
                    if self.sim_error is not None:
                        raise CityBrainError(f"simulator failed: {self.sim_error}")
                    now = progress(store)
                    if now == last and drained(self.produced, now):
                        stable_since = stable_since or time.monotonic()
                        if time.monotonic() - stable_since >= 2.0:
                            break
                    else:
                        stable_since = None
                    last = now
