"""Running the stream side: the embedded broker, topics, dead letters, a job, the simulator.

Plain functions: `citybrain.cli` registers them, in the order of `citybrain --help`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from citybrain.cli.common import ConfigOpt, settings_of, setup_logging
from citybrain.errors import CityBrainError


def broker(config: ConfigOpt = None) -> None:
    """Run the embedded Kafka-compatible broker (Tansu) and create the topics; Ctrl-C stops it."""
    from citybrain.runtime import stop_on_signals
    from citybrain.streams.broker import EmbeddedBroker
    from citybrain.streams.topics import ensure_topics

    setup_logging()
    s = settings_of(config)
    stop = stop_on_signals()
    with EmbeddedBroker(s.broker) as b:
        ensure_topics(s.kafka.model_copy(update={"bootstrap_servers": b.bootstrap}))
        typer.echo(f"broker on {b.bootstrap}; Ctrl-C to stop")
        stop.wait()


def topics(config: ConfigOpt = None) -> None:
    """Create the namespace's topics on the configured Kafka (idempotent)."""
    from citybrain.streams.topics import ensure_topics

    for name in ensure_topics(settings_of(config).kafka):
        typer.echo(name)


def dlq(
    config: ConfigOpt = None,
    limit: Annotated[int, typer.Option(help="Show at most this many records")] = 50,
) -> None:
    """List dead-lettered records: reason, stage and where the original record lives."""
    from rich.console import Console
    from rich.table import Table

    from citybrain.streams.inspect import dead_letters
    from citybrain.streams.topics import Topics

    s = settings_of(config)
    letters = dead_letters(s.kafka, Topics(s.kafka.topic_prefix).dlq)
    by_reason: dict[str, int] = {}
    for d in letters:
        by_reason[d.reason] = by_reason.get(d.reason, 0) + 1
    t = Table(title=f"{Topics(s.kafka.topic_prefix).dlq}: {len(letters)} records")
    for col in ("stage", "reason", "detail", "source", "truncated"):
        t.add_column(col)
    for d in letters[-limit:]:
        source = f"{d.source_topic}/{d.source_partition}/{d.source_offset}"
        t.add_row(d.stage, d.reason, d.detail[:60], source, "yes" if d.truncated else "")
    console = Console()
    console.print(t)
    console.print("by reason: " + ", ".join(f"{k} {n}" for k, n in sorted(by_reason.items())))


def run(
    job: Annotated[str, typer.Argument(help="vision | tickets | incidents | dispatch")],
    config: ConfigOpt = None,
    idle_exit: Annotated[
        float | None, typer.Option(help="Exit after this many seconds without records")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve this worker's /metrics here (workers.metrics_port)")
    ] = None,
) -> None:
    """Run one pipeline as a member of its Kafka consumer group until SIGINT/SIGTERM."""
    from citybrain.runtime import run_job
    from citybrain.streams.jobs import JOBS

    if job not in JOBS:
        typer.echo(f"unknown job {job!r}; choose one of {', '.join(JOBS)}", err=True)
        raise typer.Exit(2)
    setup_logging()
    settings = settings_of(config)
    if metrics_port is not None:
        workers = settings.workers.model_copy(update={"metrics_port": metrics_port})
        settings = settings.model_copy(update={"workers": workers})
    try:
        counters = run_job(job, settings, idle_exit_s=idle_exit)
    except CityBrainError as e:  # e.g. a router artefact that does not fit this city
        typer.echo(f"{job}: cannot start: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(json.dumps({"job": job, **counters}, sort_keys=True))


def simulate(
    config: ConfigOpt = None,
    seed: Annotated[int | None, typer.Option(help="Override simulator.seed")] = None,
    rate: Annotated[float | None, typer.Option(help="Records/s (0 = as fast as possible)")] = None,
    truth: Annotated[Path | None, typer.Option(help="Where to write the ground truth")] = None,
) -> None:
    """Produce the synthetic city's frames and tickets to Kafka and write the ground truth."""
    from citybrain.sim.produce import produce_city

    setup_logging()
    s = settings_of(config)
    updates = {
        k: v for k, v in (("seed", seed), ("rate", rate), ("ground_truth", truth)) if v is not None
    }
    s = s.model_copy(update={"simulator": s.simulator.model_copy(update=updates)})
    counts = produce_city(s)
    typer.echo(json.dumps(counts, sort_keys=True))
