"""`make chaos`: the synthetic city (frames and tickets → vision and tickets → incidents →
dispatch → webhooks) against the embedded broker and a private PostgreSQL, with faults,
compared with a fault-free run of the same city.

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

import argparse
import json
import os
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka.errors import KafkaError

from citybrain.chaos.checks import compare, outcome
from citybrain.chaos.postgres import PrivatePostgres
from citybrain.chaos.receiver import Receiver, free_port
from citybrain.chaos.s3 import ObjectStore
from citybrain.chaos.supervisor import PLAN, UPSTREAM, Supervisor
from citybrain.city_loading import load_city
from citybrain.config import Settings, load_settings
from citybrain.config.kafka import BrokerSettings
from citybrain.llm.server import EmbeddedLLMServer
from citybrain.runtime import run_job
from citybrain.sim.produce import send_record
from citybrain.sim.stream import SimRecord, TicketRecord, ground_truth, iter_records
from citybrain.store import Store
from citybrain.streams.broker import EmbeddedBroker
from citybrain.streams.kafka_io import make_producer
from citybrain.streams.topics import Topics, ensure_topics

BROKER_DOWN_S = 15
MODEL_DOWN_S = 60


def send_city(settings: Settings, start: datetime, seconds: float) -> list[str]:
    """The scenario's frames and tickets in simulated-time order, spread over `seconds` of
    wall time (0: at once), each acknowledged before the next (the broker may be down
    meanwhile); returns the ticket ids sent."""
    city = load_city(settings)
    records = list(iter_records(city, settings.simulator, start))
    topics = Topics(settings.kafka.topic_prefix)
    producer = make_producer(settings.kafka)
    for rec in records:
        producer = _send_until_acknowledged(settings, producer, topics, rec)
        if seconds:
            time.sleep(seconds / len(records))
    producer.close(10)
    return [r.ticket.ticket_id for r in records if isinstance(r, TicketRecord)]


def _send_until_acknowledged(
    settings: Settings, producer: Any, topics: Topics, rec: SimRecord
) -> Any:
    """A camera or the hotline does not drop a record because the broker restarts: it sends
    it again. Returns the producer it ends with (a fresh one after a long outage)."""
    for attempt in range(120):
        try:
            send_record(producer, topics, rec).get(timeout=30)
            return producer
        except KafkaError:
            time.sleep(1)
            if attempt % 10 == 9:  # a fresh client after a long outage
                producer.close(1)
                producer = make_producer(settings.kafka)
    raise RuntimeError(f"{rec} could not be sent")


def scenario(
    base: Settings,
    prefix: str,
    store_url: str,
    hooks: dict[str, str],
    model_endpoint: str | None = None,
) -> Settings:
    """The run's settings; with `model_endpoint`, the model writes summaries (it never routes,
    so departments stay comparable with the rules-only reference)."""
    llm = (
        base.llm.model_copy(
            update={
                "enabled": True,
                "embedded": False,
                "endpoint": model_endpoint,
                "routing": False,
                "queue_lease_s": 10.0,
                "queue_backoff_max_s": 10.0,
            }
        )
        if model_endpoint
        else base.llm.model_copy(update={"enabled": False})
    )
    return base.model_copy(
        update={
            "kafka": base.kafka.model_copy(update={"topic_prefix": prefix}),
            "store": base.store.model_copy(update={"url": store_url}),
            "llm": llm,
            "dispatch": base.dispatch.model_copy(
                update={
                    "webhooks": hooks,
                    "allow_insecure_webhooks": True,  # the suite's own local receiver
                    "max_attempts": 1000,
                    "backoff_max_s": 5.0,
                }
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
            "CITYBRAIN_LLM__ENABLED": str(s.llm.enabled).lower(),
            "CITYBRAIN_LLM__EMBEDDED": str(s.llm.embedded).lower(),
            "CITYBRAIN_LLM__ENDPOINT": s.llm.endpoint,
            "CITYBRAIN_LLM__ROUTING": str(s.llm.routing).lower(),
            "CITYBRAIN_LLM__QUEUE_LEASE_S": str(s.llm.queue_lease_s),
            "CITYBRAIN_LLM__QUEUE_BACKOFF_MAX_S": str(s.llm.queue_backoff_max_s),
            "CITYBRAIN_DISPATCH__WEBHOOKS": json.dumps(s.dispatch.webhooks),
            "CITYBRAIN_DISPATCH__ALLOW_INSECURE_WEBHOOKS": str(
                s.dispatch.allow_insecure_webhooks
            ).lower(),
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


def inject_faults(
    receiver: Receiver, pg: PrivatePostgres, broker: EmbeddedBroker, model: EmbeddedLLMServer
) -> list[dict[str, Any]]:
    """Once deliveries flow: the receiver fails for 60 s; meanwhile PostgreSQL stops for 30 s;
    then the broker is killed and restarted, then the model server stops for 60 s."""
    wait_until = time.monotonic() + 180
    while not receiver.accepted and time.monotonic() < wait_until:
        time.sleep(1)
    receiver.fail_next_s = 60.0  # from the next delivery attempt on
    time.sleep(10)
    pg.stop()
    time.sleep(30)
    pg.start()
    time.sleep(15)
    broker.kill()
    time.sleep(BROKER_DOWN_S)
    broker.start()
    model.stop()
    time.sleep(MODEL_DOWN_S)
    model.start()
    return [
        {"fault": "webhook receiver answers 503", "seconds": 60},
        {"fault": "PostgreSQL stopped (pg_ctl -m immediate)", "seconds": 30},
        {"fault": "broker killed (SIGKILL), restarted on its s3:// storage",
         "seconds": BROKER_DOWN_S},
        {"fault": "model server stopped", "seconds": MODEL_DOWN_S},
    ]  # fmt: skip


def drain(
    s: Settings, env: dict[str, str], out_dir: Path, truth: dict[str, Any], rounds: int = 12
) -> dict[str, Any]:
    """Each job once more until idle, until every delivery is through, the summary queue
    has settled and no job's outbox holds an unsent message. The dispatch job idles longer: its summary worker works while it waits, and
    stops when it exits (the next round resumes the queue)."""
    got: dict[str, Any] = {}
    for _ in range(rounds):
        for job in PLAN:
            idle_s = 60.0 if job == "dispatch" else 10.0
            Supervisor(job, env, out_dir / f"{job}.log", idle_s).run_once()
        got = outcome(s, truth)
        delivered = all(v == "delivered" for v in got["deliveries"].values())
        # a summary written while its job was stopping leaves its follow-up in the outbox
        # for the next start: the drain is over only when no job has anything left to send
        store = Store.open(s.store)
        unsent = sum(store.outbox(job).unsent() for job in PLAN)
        store.engine.dispose()
        if delivered and set(got["summary_queue"]) <= {"done", "failed"} and not unsent:
            break
    return got


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
    with (
        ObjectStore(free_port(), "citybrain-chaos", out_dir / "s3.log") as s3,
        EmbeddedBroker(
            BrokerSettings(port=broker_port, storage=s3.storage),
            out_dir / "broker.log",
            s3.broker_env(),
        ) as broker,
        PrivatePostgres(free_port()) as pg,
        EmbeddedLLMServer(base.llm, free_port(), out_dir / "model.log") as model,
    ):
        base = base.model_copy(
            update={"kafka": base.kafka.model_copy(update={"bootstrap_servers": broker.bootstrap})}
        )
        # 1. the reference: the same city without faults (SQLite, in this process)
        ref_s = scenario(base, f"ref{uuid.uuid4().hex[:6]}", f"sqlite:///{out_dir}/ref.db", {})
        ensure_topics(ref_s.kafka)
        (out_dir / "ref.db").unlink(missing_ok=True)
        sent = send_city(ref_s, start, 0)
        for job in PLAN:
            # generous waits: a reference cut short by a loaded machine (a job that starts
            # slowly or pauses) shows up as faults the fault run never had
            run_job(job, ref_s, stop=threading.Event(), idle_exit_s=15.0, first_wait_s=180.0)
        ref = outcome(ref_s, truth)
        # 2. the same city with faults, every job a process of its own
        s = scenario(base, f"chaos{uuid.uuid4().hex[:6]}", pg.url, hooks, model.endpoint)
        ensure_topics(s.kafka)
        Store.open(s.store).engine.dispose()
        env = env_of(s)
        # a job retries a point its work has not reached while its upstream still works
        sups = {j: Supervisor(j, env, out_dir / f"{j}.log", 20.0) for j in PLAN}
        for x in sups.values():
            x.producing.set()
        threads = [threading.Thread(target=x.run) for x in sups.values()]
        for t in threads:
            t.start()

        def until_done(job: str) -> None:
            for up in UPSTREAM[job]:
                sups[up].done.wait()
            sups[job].producing.clear()

        for job in PLAN:
            if UPSTREAM[job]:
                threading.Thread(target=until_done, args=(job,), daemon=True).start()

        def produce() -> None:
            send_city(s, start, 360.0)
            for job in PLAN:
                if not UPSTREAM[job]:
                    sups[job].producing.clear()

        producer = threading.Thread(target=produce)
        producer.start()
        faults = inject_faults(receiver, pg, broker, model)
        producer.join()
        for t in threads:
            t.join()
        got = drain(s, env, out_dir, truth)
    checks = compare(ref, got, receiver.accepted)
    lost = sum(len(c["lost"]) for c in checks.values() if "lost" in c)
    duplicated = sum(len(c["duplicated"]) for c in checks.values() if "duplicated" in c)
    reached = [p for x in sups.values() for p in x.reached]
    report = {
        "kill_points": len(reached),
        "kill_points_reached": reached,
        "kill_points_not_reached": [p for x in sups.values() for p in x.not_reached],
        "failed_starts": {x.job: x.failed_starts for x in sups.values()},
        "faults": [{"fault": "SIGKILL + restart", "points": len(reached)}, *faults],
        "lost": lost,
        "duplicated": duplicated,
        "regrouped_by_arrival_order": checks["incidents"]["regrouped"],
        "checks": checks,
        "tickets_sent": len(sent),
        # a restarted vision job observes replayed frames again, under the same ids
        "camera_observations": {
            "reference": ref["camera_observations"],
            "faulted": got["camera_observations"],
        },
        "ground_truth": {
            "events": truth["counts"]["events"],
            "tickets": truth["counts"]["tickets"],
        },
        "webhook_refused_503": receiver.refused,
        "wall_s": round(time.monotonic() - began, 1),
        "not_covered": [
            "the model routing (llm.routing is off so departments stay comparable)",
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


def cli(argv: list[str] | None = None) -> int:
    """`python -m citybrain.chaos.suite [--out DIR]` (`make chaos`)."""
    p = argparse.ArgumentParser(prog="python -m citybrain.chaos.suite", description=__doc__)
    p.add_argument("--out", type=Path, default=Path("var/chaos"), help="report.json and logs")
    return main(p.parse_args(argv).out)


if __name__ == "__main__":
    sys.exit(cli())
