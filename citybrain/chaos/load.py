"""`make load`: the fault suite's load mode. The synthetic city played live at 20x the demo's
ticket rate and 5x its frame rate (`--tickets-x`, `--frames-x`) for `--minutes` (default 10)
of wall time, through the four jobs (vision, tickets, incidents, dispatch), each its own
process, against the embedded broker and a private PostgreSQL, rules only (no model). It
samples every job group's consumer lag and every job process's resident memory, measures
evidence-to-dispatch latency and judges whether the lag stayed bounded and, past the warm-up,
the memory flat (the soak: `--minutes 30 --tickets-x 10 --frames-x 10`). `--continuous` fills
every gap of the incident job's input so that no poll comes back empty, as in a real city, and
checks that incidents still resolve on time (load_continuous.py).

Played live: each record is sent when its simulated time comes (simulated clock = wall clock),
so an incident's opening time (the event time of its first evidence) is also when that
evidence was sent, and a dispatch record's Kafka timestamp minus it is the latency a
dispatcher sees. The demo's rate is the city's own per simulated second (default simulator:
12 cameras every 60 s, 12 events and 6 unrelated reports in 30 minutes).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from citybrain.chaos.lag import LagProbe
from citybrain.chaos.load_continuous import (
    IDLE_RESOLVE_S,
    KeepAlive,
    continuous_settings,
    overdue,
)
from citybrain.chaos.load_plot import plot_lag, plot_memory
from citybrain.chaos.load_rates import FRAME_X, TICKET_X, rates, scaled_simulator
from citybrain.chaos.load_report import (
    CRITERION,
    DRAIN_LIMIT_S,
    MEMORY_CRITERION,
    all_flat,
    dispatch_latencies,
    first_dispatches,
    lag_verdict,
    memory_verdict,
    percentile,
    series_summary,
    warm_up_s,
)
from citybrain.chaos.load_sampler import SAMPLE_EVERY_S, Sampler, replay_guard
from citybrain.chaos.postgres import PrivatePostgres
from citybrain.chaos.receiver import free_port
from citybrain.city_loading import load_city
from citybrain.config import Settings, load_settings
from citybrain.config.kafka import BrokerSettings
from citybrain.core.city import City
from citybrain.procs import die_with_parent
from citybrain.sim.produce import send_record
from citybrain.sim.stream import FrameRecord, ground_truth, iter_records, write_ground_truth
from citybrain.store import Store
from citybrain.streams import inspect
from citybrain.streams.broker import EmbeddedBroker
from citybrain.streams.jobs import JOBS, job_spec
from citybrain.streams.kafka_io import make_producer
from citybrain.streams.topics import Topics, ensure_topics

log = logging.getLogger(__name__)
DRAIN_WAIT_S = 2 * DRAIN_LIMIT_S  # how long the lag may take to drain before the run gives up
READY_TIMEOUT_S = 300.0  # a cold vision job loads torch and the detector first
LEAD_S = 2.0  # between choosing the simulated start and its first record


def play(settings: Settings, city: City, start: datetime, stop: threading.Event) -> dict[str, Any]:
    """Send every record at its simulated time; returns counts and how late the sends were."""
    topics = Topics(settings.kafka.topic_prefix)
    producer = make_producer(settings.kafka)
    sent = {"frames": 0, "tickets": 0}
    late: list[float] = []
    try:
        for rec in iter_records(city, settings.simulator, start):
            wait = rec.ts_ms / 1000.0 - time.time()
            if wait > 0 and stop.wait(wait):
                break
            late.append(max(0.0, time.time() - rec.ts_ms / 1000.0))
            send_record(producer, topics, rec)
            sent["frames" if isinstance(rec, FrameRecord) else "tickets"] += 1
        producer.flush()
    finally:
        producer.close(10)
    return {
        **sent,
        "send_late_p99_s": round(percentile(late, 99), 3) if late else None,
        "send_late_max_s": round(max(late), 3) if late else None,
    }


@dataclass
class Jobs:
    """The four jobs as child processes (`citybrain run JOB`), as they are deployed."""

    config: Path
    logs: Path
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self) -> None:
        for job in JOBS:
            out = open(self.logs / f"{job}.log", "wb")  # noqa: SIM115 (the child owns it)
            self.children[job] = subprocess.Popen(
                [sys.executable, "-m", "citybrain", "run", job, "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )

    def dead(self) -> dict[str, int]:
        return {j: rc for j, p in self.children.items() if (rc := p.poll()) is not None}

    def stop(self) -> dict[str, int | None]:
        """SIGTERM to all, then wait (SIGKILL past 20 s); each job's exit code."""
        for p in self.children.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for p in self.children.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        return {j: p.returncode for j, p in self.children.items()}


def wait_ready(store: Store, jobs: Jobs) -> float:
    """Until every job has run its loop once (its counters are in the store); seconds taken."""
    began = time.monotonic()
    while time.monotonic() - began < READY_TIMEOUT_S:
        if jobs.dead():
            raise RuntimeError(f"jobs exited while starting: {jobs.dead()}; see {jobs.logs}")
        running = {w.split("@", 1)[0] for w in store.stats()}
        if running >= set(JOBS):
            return time.monotonic() - began
        time.sleep(1.0)
    raise RuntimeError(f"jobs not ready after {READY_TIMEOUT_S:.0f} s; see {jobs.logs}")


def latency(settings: Settings) -> tuple[dict[str, Any], dict[str, int]]:
    """Evidence-to-dispatch latency from the dispatch topic and the store; and counts."""
    records = inspect.read_topic(settings.kafka, Topics(settings.kafka.topic_prefix).dispatch)
    first = first_dispatches(
        (r.timestamp, {k: v for k, v in (r.headers or [])}, r.value) for r in records
    )
    store = Store.open(settings.store)
    incidents = store.incidents(limit=1_000_000)
    earliest: dict[str, tuple[datetime, str]] = {}
    for e in store.evidence():
        if e.incident_id not in earliest or e.observed_at < earliest[e.incident_id][0]:
            earliest[e.incident_id] = (e.observed_at, e.source)
    store.engine.dispose()
    opened = {i.id: i.opened_at for i in incidents}
    by = {k: src for k, (_, src) in earliest.items()}
    counts = {
        "incidents": len(incidents),
        "dispatched": len(first),
        "not_dispatched": len(set(opened) - set(first)),
        "dispatch_records": len(records),
    }
    return dispatch_latencies(first, opened, by), counts


def run(
    minutes: float,
    out_dir: Path,
    plot: Path,
    memory_plot: Path,
    tickets_x: float = TICKET_X,
    frames_x: float = FRAME_X,
    continuous: bool = False,
) -> dict[str, Any]:
    began = time.monotonic()
    work = out_dir / "load"
    work.mkdir(parents=True, exist_ok=True)
    base = load_settings()
    city = load_city(base)
    demo = rates(base.simulator, city, datetime.now(UTC))
    sim = scaled_simulator(
        base.simulator, city, minutes * 60.0, datetime.now(UTC), tickets_x, frames_x
    )
    with (
        EmbeddedBroker(BrokerSettings(port=free_port()), work / "broker.log") as broker,
        PrivatePostgres(free_port()) as pg,
    ):
        s = base.model_copy(
            update={
                "kafka": base.kafka.model_copy(
                    update={
                        "bootstrap_servers": broker.bootstrap,
                        "topic_prefix": f"load{uuid.uuid4().hex[:6]}",
                    }
                ),
                "store": base.store.model_copy(update={"url": pg.url}),
                "llm": base.llm.model_copy(update={"enabled": False}),
                "simulator": sim.model_copy(update={"ground_truth": work / "ground_truth.json"}),
            }
        )
        if continuous:
            s = continuous_settings(s)
        ensure_topics(s.kafka)
        store = Store.open(s.store)  # the tables, before four jobs race to create them
        config = work / "effective.yaml"
        config.write_text(yaml.safe_dump(s.model_dump(mode="json"), sort_keys=False))
        jobs = Jobs(config, work)
        jobs.start()
        try:
            ready_s = wait_ready(store, jobs)
            names = Topics(s.kafka.topic_prefix)
            probe = LagProbe(s.kafka, {j: job_spec(j).inputs(names) for j in JOBS})
            start = datetime.fromtimestamp(int(time.time() + LEAD_S) + 1, UTC)
            load = rates(sim, city, start)
            write_ground_truth(s.simulator.ground_truth, ground_truth(city, sim, start))
            sampler = Sampler(
                probe,
                start.timestamp(),
                pids={j: p.pid for j, p in jobs.children.items()},
                guard=lambda: replay_guard(store),
            )
            thread = threading.Thread(target=sampler.run, name="lag", daemon=True)
            thread.start()
            log.info("sending for %.0f s from %s", sim.duration_s, start.isoformat())
            keep_alive = (
                KeepAlive(s, s.kafka.poll_timeout_ms / 4000.0).start() if continuous else None
            )
            sent = play(s, city, start, threading.Event())
            time.sleep(max(0.0, start.timestamp() + sim.duration_s - time.time()))  # the span
            send_end_s = time.time() - start.timestamp()
            if keep_alive is not None:  # on, through the drain: the input never pauses
                time.sleep(IDLE_RESOLVE_S / 2)  # ticks after the last evidence, records flowing
            drain_until = time.monotonic() + DRAIN_WAIT_S
            while time.monotonic() < drain_until and not jobs.dead():
                last = {j: v[-1] for j, v in sampler.series.items() if v}
                if last and all(t > send_end_s and n == 0 for t, n in last.values()):
                    break
                time.sleep(1.0)
            if keep_alive is not None:
                keep_alive.close()
            sampler.stop.set()
            thread.join(30)
            sampler.once()  # the state at the end, whatever the thread's last tick saw
            probe.close()
            dead = jobs.dead()
            latencies, counts = latency(s)
            on_time = overdue(store, s.incidents.idle_resolve_s) if continuous else None
        finally:
            exits = jobs.stop()
            store.engine.dispose()
    verdicts = {j: lag_verdict(v, send_end_s) for j, v in sampler.series.items()}
    bounded = bool(verdicts) and all(v["bounded"] for v in verdicts.values()) and not dead
    title = (
        f"load: {load['tickets_per_s']:.2f} tickets/s, {load['frames_per_s']:.2f} frames/s "
        f"for {send_end_s:.0f} s (4 jobs, PostgreSQL, rules only)"
    )
    plot_lag(sampler.series, send_end_s, plot, title)
    memory = {j: memory_verdict(v, send_end_s) for j, v in sampler.memory.items()}
    flat = all_flat(memory)
    plot_memory(sampler.memory, send_end_s, warm_up_s(send_end_s), memory_plot, title)
    return {
        "minutes": minutes,
        "demo_rate": demo,
        "load_rate": load,
        "rate_asked": {"tickets": tickets_x, "frames": frames_x},
        "rate_vs_demo": {
            "tickets": round(load["tickets_per_s"] / demo["tickets_per_s"], 2),
            "frames": round(load["frames_per_s"] / demo["frames_per_s"], 2),
        },
        "sent": sent,
        "send_s": round(send_end_s, 1),
        "jobs_ready_s": round(ready_s, 1),
        "store": "postgresql (private cluster)",
        "llm": "disabled (rules only)",
        "sample_every_s": SAMPLE_EVERY_S,
        "lag_sample_errors": sampler.errors,
        "lag": {j: {"series": v, **verdicts[j]} for j, v in sampler.series.items()},
        "input_ends": sampler.ends,
        "evidence_to_dispatch": latencies,
        "counts": counts,
        "criterion": CRITERION,
        "bounded": bounded,
        "memory": {j: {"series_mib": v, **memory[j]} for j, v in sampler.memory.items()},
        "memory_criterion": MEMORY_CRITERION,
        "memory_flat": flat,
        "replay_guard": {
            "series": sampler.guard_series,
            **series_summary(sampler.guard_series),
            "sample_errors": sampler.guard_errors,
        },
        "continuous": (
            {
                "keep_alive_records": keep_alive.sent if keep_alive else 0,
                "keep_alive_every_s": s.kafka.poll_timeout_ms / 4000.0,
                "idle_resolve_s": s.incidents.idle_resolve_s,
                **(on_time or {}),
                "resolved_on_time": on_time is not None and on_time["overdue"] == 0,
            }
            if continuous
            else None
        ),
        "jobs_died_during_run": dead,
        "exit_codes": exits,
        "plot": str(plot),
        "memory_plot": str(memory_plot),
        "wall_s": round(time.monotonic() - began, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m citybrain.chaos.load", description=__doc__)
    p.add_argument("--minutes", type=float, default=10.0, help="wall time of sending")
    p.add_argument("--out", type=Path, default=Path("var/chaos"), help="load.json and logs")
    p.add_argument("--plot", type=Path, default=Path("docs/img/load_lag.png"))
    p.add_argument("--memory-plot", type=Path, default=Path("docs/img/load_memory.png"))
    p.add_argument("--tickets-x", type=float, default=TICKET_X, help="ticket rate, x the demo's")
    p.add_argument("--frames-x", type=float, default=FRAME_X, help="frame rate, x the demo's")
    p.add_argument(
        "--continuous",
        action="store_true",
        help="fill every gap of the incident job's input (no empty poll) and check that "
        f"incidents still resolve on time (idle timeout {IDLE_RESOLVE_S:.0f} s)",
    )
    a = p.parse_args(argv)
    if a.tickets_x <= 0 or a.frames_x <= 0:
        p.error("--tickets-x and --frames-x must be positive")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)  # a line per connection otherwise
    report = run(a.minutes, a.out, a.plot, a.memory_plot, a.tickets_x, a.frames_x, a.continuous)
    (a.out / "load.json").write_text(json.dumps(report, indent=2, default=str))
    short = {k: report[k] for k in ("rate_vs_demo", "send_s", "bounded", "memory_flat", "wall_s")}
    print(json.dumps({**short, "evidence_to_dispatch": report["evidence_to_dispatch"]}))
    for job, v in report["lag"].items():
        keys = ("max", "max_last_third", "drained_after_s", "bounded")
        print(job, {k: v[k] for k in keys})
    for job, v in report["memory"].items():
        shown = ("warm_rss_mib", "last_rss_mib", "slope_mib_per_h", "allowance_mib", "flat")
        print(job, "memory", {k: v[k] for k in shown})
    print("replay guard", {k: report["replay_guard"][k] for k in ("first", "last", "max")})
    cont = report["continuous"]
    if cont is not None:
        print("continuous", {k: v for k, v in cont.items() if k != "overdue_ids"})
    on_time = cont is None or cont["resolved_on_time"]
    return 0 if report["bounded"] and report["memory_flat"] is not False and on_time else 1


if __name__ == "__main__":
    sys.exit(main())
