"""`make chaos`: the synthetic city's ticket path (tickets → incidents → dispatch → webhooks)
against the embedded broker and a private PostgreSQL, with faults, compared with a fault-free
run of the same city.

Faults: every job is killed with SIGKILL at named points of its loop (crash points, see
streams/crash.py), one point per start, and started again; the broker is killed (SIGKILL) and
started again on its durable storage (Tansu's `s3://` engine on a local S3 server, moto);
PostgreSQL is stopped for 30 s (`pg_ctl -m immediate`); the webhook receiver answers 503 for
60 s. Because every id is
deterministic, the fault-free reference run says exactly which incidents, dispatches and
deliveries must exist; the check counts what is missing (lost) and what is there more than
once (duplicated), and names each record.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from kafka.errors import KafkaError

from citybrain.chaos.postgres import PrivatePostgres
from citybrain.chaos.receiver import Receiver, free_port
from citybrain.chaos.s3 import ObjectStore
from citybrain.chaos.supervisor import PLAN, Supervisor
from citybrain.city_loading import load_city
from citybrain.config import Settings, load_settings
from citybrain.config.kafka import BrokerSettings
from citybrain.runtime import run_job
from citybrain.sim.stream import TicketRecord, ground_truth, iter_records
from citybrain.store import Store
from citybrain.streams import inspect
from citybrain.streams.broker import EmbeddedBroker
from citybrain.streams.kafka_io import make_producer
from citybrain.streams.topics import Topics, ensure_topics

BROKER_DOWN_S = 15


def send_tickets(settings: Settings, start: datetime, seconds: float) -> list[str]:
    """The scenario's tickets, spread over `seconds` of wall time (0: at once)."""
    city = load_city(settings)
    tickets = [
        r.ticket
        for r in iter_records(city, settings.simulator, start)
        if isinstance(r, TicketRecord)
    ]
    topic = Topics(settings.kafka.topic_prefix).tickets
    producer = make_producer(settings.kafka)
    pending = []
    for t in tickets:
        pending.append(t)
        if seconds:  # one at a time, each acknowledged (the broker may be down meanwhile)
            _send_until_acknowledged(settings, producer, topic, pending)
            pending = []
            time.sleep(seconds / len(tickets))
    _send_until_acknowledged(settings, producer, topic, pending)
    producer.close(10)
    return [t.ticket_id for t in tickets]


def _send_until_acknowledged(
    settings: Settings, producer: Any, topic: str, tickets: list[Any]
) -> None:
    """A hotline does not drop a report because the broker restarts: it sends it again."""
    for t in tickets:
        for attempt in range(120):
            try:
                producer.send(
                    topic, key=t.ticket_id.encode(), value=t.model_dump_json().encode()
                ).get(timeout=30)
                break
            except KafkaError:
                time.sleep(1)
                if attempt % 10 == 9:  # a fresh client after a long outage
                    producer.close(1)
                    producer = make_producer(settings.kafka)
        else:
            raise RuntimeError(f"ticket {t.ticket_id} could not be sent")


def scenario(base: Settings, prefix: str, store_url: str, hooks: dict[str, str]) -> Settings:
    return base.model_copy(
        update={
            "kafka": base.kafka.model_copy(update={"topic_prefix": prefix}),
            "store": base.store.model_copy(update={"url": store_url}),
            "llm": base.llm.model_copy(update={"enabled": False}),
            "dispatch": base.dispatch.model_copy(
                update={"webhooks": hooks, "max_attempts": 1000, "backoff_max_s": 5.0}
            ),
            "workers": base.workers.model_copy(
                update={"outbox_lease_s": 3.0, "dependency_retry_max_s": 2.0}
            ),
        }
    )


def env_of(s: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "CITYBRAIN_KAFKA__BOOTSTRAP_SERVERS": s.kafka.bootstrap_servers,
            "CITYBRAIN_KAFKA__TOPIC_PREFIX": s.kafka.topic_prefix,
            "CITYBRAIN_STORE__URL": s.store.url,
            "CITYBRAIN_LLM__ENABLED": "false",
            "CITYBRAIN_DISPATCH__WEBHOOKS": json.dumps(s.dispatch.webhooks),
            "CITYBRAIN_DISPATCH__MAX_ATTEMPTS": str(s.dispatch.max_attempts),
            "CITYBRAIN_DISPATCH__BACKOFF_MAX_S": str(s.dispatch.backoff_max_s),
            "CITYBRAIN_WORKERS__OUTBOX_LEASE_S": str(s.workers.outbox_lease_s),
            "CITYBRAIN_WORKERS__DEPENDENCY_RETRY_MAX_S": str(s.workers.dependency_retry_max_s),
            "CITYBRAIN_SIMULATOR__EVENTS": str(s.simulator.events),
            "CITYBRAIN_SIMULATOR__UNRELATED_TICKETS": str(s.simulator.unrelated_tickets),
        }
    )
    env.pop("CITYBRAIN_CRASH_AT", None)
    env.pop("CITYBRAIN_CRASH_MODE", None)
    return env


def outcome(s: Settings) -> dict[str, Any]:
    store = Store.from_url(s.store.url)
    topics = Topics(s.kafka.topic_prefix)
    wire = Counter(
        dict(r.headers).get("idempotency-key", b"").decode()
        for r in inspect.read_topic(s.kafka, topics.dispatch)
    )
    incidents = store.incidents(limit=100_000)
    evidence = store.evidence()
    # An incident's id comes from its first observation, which depends on arrival order (the
    # reference gets every ticket at once); the tickets it holds do not. So incidents are
    # compared by their tickets, and dispatches by (their incident's tickets, department).
    members: dict[str, list[str]] = {}
    for e in evidence:
        members.setdefault(e.incident_id, []).append(e.source_id)
    canon = {i.id: "+".join(sorted(members.get(i.id, []))) or i.id for i in incidents}
    dispatches = store.dispatches()
    by_id = {d.id: f"{canon.get(d.incident_id, d.incident_id)}>{d.department}" for d in dispatches}
    out = {
        "tickets": Counter(e.source_id for e in evidence if e.source == "ticket"),
        "incidents": Counter(canon.values()),
        "states": {canon[i.id]: (i.status, i.department) for i in incidents},
        "dispatches": Counter(by_id.values()),
        "dispatch_wire": Counter(by_id.get(k, k) for k in wire.elements()),
        "summaries": {canon[i.id] for i in incidents if store.summary(i.id) is not None},
        "deliveries": {d.id: d.status for d in store.deliveries()},
        "delivery_key": by_id,
    }
    store.engine.dispose()
    return out


def regrouped(ref: Counter[str], got: Counter[str]) -> set[str]:
    """Incidents (as ticket groups) that differ only in how the same tickets were grouped:
    fusion can group a chain of reports, each within the radius of the next, by arrival order
    (ARCHITECTURE.md, "Bad input"). Same tickets, same number of incidents: not lost, not
    doubled; reported apart."""
    lost = [k for k in ref if k not in got]
    extra = [k for k in got if k not in ref]

    def tickets(keys: list[str]) -> list[str]:
        return sorted(t for k in keys for t in k.split("+"))

    if len(lost) == len(extra) and tickets(lost) == tickets(extra):
        return set(lost) | set(extra)
    return set()


def compare(ref: dict[str, Any], got: dict[str, Any], accepted: Counter[str]) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    moved = regrouped(ref["incidents"], got["incidents"])

    def check(name: str, want: set[str], have: Counter[str] | set[str] | dict[str, Any]) -> None:
        counts = have if isinstance(have, Counter) else Counter(have)
        lost = sorted(want - set(counts))
        extra = sorted(k for k in counts if k not in want)
        doubled = sorted(k for k, n in counts.items() if n > 1)
        apart = {k for k in [*lost, *extra] if k.split(">")[0] in moved}
        checks[name] = {
            "expected": len(want),
            "lost": [k for k in lost if k not in apart],
            "duplicated": sorted((set(extra) - apart) | set(doubled)),
            "regrouped": sorted(apart),
        }

    check("tickets_stored", set(ref["tickets"]), got["tickets"])
    check("incidents", set(ref["incidents"]), set(got["incidents"]))
    check("dispatches", set(ref["dispatches"]), got["dispatches"])
    check("dispatch_messages", set(ref["dispatches"]), set(got["dispatch_wire"]))
    webhooks = Counter({got["delivery_key"].get(k, k): n for k, n in accepted.items()})
    check("webhook_deliveries", set(ref["dispatches"]), set(webhooks))
    check("summaries", set(ref["incidents"]), got["summaries"])
    same = {k for k in ref["states"] if got["states"].get(k) == ref["states"][k]}
    checks["incident_states_equal"] = {
        "equal": len(same),
        "of": len(ref["states"]),
        "regrouped": len(moved) // 2,
    }
    checks["redelivered_on_the_wire"] = {
        "dispatch_messages": sum(n - 1 for n in got["dispatch_wire"].values()),
        "webhooks": sum(n - 1 for n in accepted.values()),
        "note": "same idempotency key sent again after a kill between send and mark-sent",
    }
    return checks


def main(out_dir: Path = Path("var/chaos")) -> int:
    began = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    base = load_settings()
    sim = base.simulator.model_copy(update={"events": 40, "unrelated_tickets": 20})
    base = base.model_copy(update={"simulator": sim})
    city = load_city(base)
    start = datetime.fromtimestamp(time.time() - sim.duration_s, UTC).replace(microsecond=0)
    truth = ground_truth(city, sim, start)
    broker_port = free_port()
    receiver = Receiver(free_port())
    hooks = {d.id: receiver.url for d in city.departments}
    faults: list[dict[str, Any]] = []
    with (
        ObjectStore(free_port(), "citybrain-chaos", out_dir / "s3.log") as s3,
        EmbeddedBroker(
            BrokerSettings(port=broker_port, storage=s3.storage),
            out_dir / "broker.log",
            s3.broker_env(),
        ) as broker,
        PrivatePostgres(free_port()) as pg,
    ):
        base = base.model_copy(
            update={"kafka": base.kafka.model_copy(update={"bootstrap_servers": broker.bootstrap})}
        )
        # 1. the reference: the same city without faults (SQLite, in this process)
        ref_s = scenario(base, f"ref{uuid.uuid4().hex[:6]}", f"sqlite:///{out_dir}/ref.db", {})
        ensure_topics(ref_s.kafka)
        (out_dir / "ref.db").unlink(missing_ok=True)
        sent = send_tickets(ref_s, start, 0)
        for job in ("tickets", "incidents", "dispatch"):
            run_job(job, ref_s, stop=threading.Event(), idle_exit_s=4.0, first_wait_s=30.0)
        ref = outcome(ref_s)
        # 2. the same city with faults, every job a process of its own
        s = scenario(base, f"chaos{uuid.uuid4().hex[:6]}", pg.url, hooks)
        ensure_topics(s.kafka)
        Store.from_url(s.store.url).engine.dispose()
        env = env_of(s)
        producing = threading.Event()
        producing.set()
        sups: list[Supervisor] = []
        for j in PLAN:  # a job retries a point its work has not reached while upstream works
            sups.append(Supervisor(j, env, out_dir / f"{j}.log", 20.0, producing=producing))
            producing = threading.Event()
            producing.set()
        threads = [threading.Thread(target=x.run) for x in sups]
        for t in threads:
            t.start()

        def until_done(up: Supervisor, down: Supervisor) -> None:
            up.done.wait()
            down.producing.clear()

        for up, down in pairwise(sups):
            threading.Thread(target=until_done, args=(up, down), daemon=True).start()

        def produce() -> None:
            send_tickets(s, start, 360.0)
            sups[0].producing.clear()

        producer = threading.Thread(target=produce)
        producer.start()
        wait_until = time.monotonic() + 180
        while not receiver.accepted and time.monotonic() < wait_until:
            time.sleep(1)  # the faults start once deliveries flow
        receiver.fail_next_s = 60.0  # from the next delivery attempt on
        time.sleep(10)
        pg.stop()
        time.sleep(30)
        pg.start()
        faults.append({"fault": "PostgreSQL stopped (pg_ctl -m immediate)", "seconds": 30})
        faults.append({"fault": "webhook receiver answers 503", "seconds": 60})
        time.sleep(15)
        broker.kill()
        time.sleep(BROKER_DOWN_S)
        broker.start()
        faults.append(
            {"fault": "broker killed (SIGKILL), restarted on its s3:// storage",
             "seconds": BROKER_DOWN_S}
        )  # fmt: skip
        producer.join()
        for t in threads:
            t.join()
        # 3. drain: each job once more until idle, until every delivery is through
        for _ in range(5):
            for job in ("tickets", "incidents", "dispatch"):
                Supervisor(job, env, out_dir / f"{job}.log", 10.0).run_once()
            got = outcome(s)
            if all(v == "delivered" for v in got["deliveries"].values()):
                break
        got = outcome(s)
    checks = compare(ref, got, receiver.accepted)
    lost = sum(len(c["lost"]) for c in checks.values() if "lost" in c)
    duplicated = sum(len(c["duplicated"]) for c in checks.values() if "duplicated" in c)
    reached = [p for x in sups for p in x.reached]
    report = {
        "kill_points": len(reached),
        "kill_points_reached": reached,
        "kill_points_not_reached": [p for x in sups for p in x.not_reached],
        "failed_starts": {x.job: x.failed_starts for x in sups},
        "faults": [{"fault": "SIGKILL + restart", "points": len(reached)}, *faults],
        "lost": lost,
        "duplicated": duplicated,
        "regrouped_by_arrival_order": checks["incidents"]["regrouped"],
        "checks": checks,
        "tickets_sent": len(sent),
        "ground_truth": {
            "events": truth["counts"]["events"],
            "tickets": truth["counts"]["tickets"],
        },
        "webhook_refused_503": receiver.refused,
        "wall_s": round(time.monotonic() - began, 1),
        "not_covered": [
            "frames and the vision job (CPU-bound here); the ticket path only",
            "model server stopped 60 s (rules only: the model is off)",
            "load mode (20x tickets, 5x frames, lag plot)",
        ],
    }
    receiver.server.shutdown()
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps({k: report[k] for k in ("kill_points", "lost", "duplicated", "wall_s")}))
    for name, c in checks.items():
        for what in ("lost", "duplicated"):
            for rec in c.get(what, [])[:20]:
                print(f"{name}: {what} {rec}")
    return 0 if lost == 0 and duplicated == 0 and len(reached) >= 20 else 1


if __name__ == "__main__":
    sys.exit(main())
