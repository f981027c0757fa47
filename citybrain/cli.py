"""The `citybrain` command line."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from citybrain.errors import CityBrainError, ConfigError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Runtime YAML (default: config/citybrain.yaml, or $CITYBRAIN_CONFIG)"
    ),
]


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("kafka", "httpx", "ultralytics"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _settings(config: Path | None):  # type: ignore[no-untyped-def]
    from citybrain.config import load_settings

    try:
        return load_settings(config)
    except ConfigError as e:
        typer.echo("\n".join(e.problems), err=True)
        raise typer.Exit(2) from e


@app.command("validate-config")
def validate_config(
    path: Annotated[Path | None, typer.Argument(help="Runtime YAML to check")] = None,
) -> None:
    """Check the runtime YAML and every city file; print each error with file and line."""
    from citybrain.config import load_all

    try:
        settings, city = load_all(path)
    except ConfigError as e:
        for p in e.problems:
            typer.echo(p, err=True)
        typer.echo(f"{len(e.problems)} error(s)", err=True)
        raise typer.Exit(1) from e
    typer.echo(
        f"ok: {city.name}: {len(city.districts)} districts, {len(city.cameras)} cameras, "
        f"{len(city.categories)} categories, {len(city.departments)} departments, "
        f"{len(city.responsibilities)} responsibility lines (city files in {settings.city.dir})"
    )


@app.command()
def schemas(
    out: Annotated[Path, typer.Argument(help="Folder for the JSON Schema files")] = Path(
        "docs/schemas"
    ),
) -> None:
    """Export the JSON Schema of every message contract."""
    from citybrain.core.messages import SCHEMA_TYPES

    out.mkdir(parents=True, exist_ok=True)
    for name, model in SCHEMA_TYPES.items():
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False) + "\n")
        typer.echo(str(path))


@app.command()
def broker(config: ConfigOpt = None) -> None:
    """Run the embedded Kafka-compatible broker (Tansu) and create the topics; Ctrl-C stops it."""
    from citybrain.runtime import stop_on_signals
    from citybrain.streams.broker import EmbeddedBroker
    from citybrain.streams.topics import ensure_topics

    _setup_logging()
    s = _settings(config)
    stop = stop_on_signals()
    with EmbeddedBroker(s.broker) as b:
        ensure_topics(s.kafka.model_copy(update={"bootstrap_servers": b.bootstrap}))
        typer.echo(f"broker on {b.bootstrap}; Ctrl-C to stop")
        stop.wait()


@app.command()
def topics(config: ConfigOpt = None) -> None:
    """Create the namespace's topics on the configured Kafka (idempotent)."""
    from citybrain.streams.topics import ensure_topics

    for name in ensure_topics(_settings(config).kafka):
        typer.echo(name)


@app.command()
def dlq(
    config: ConfigOpt = None,
    limit: Annotated[int, typer.Option(help="Show at most this many records")] = 50,
) -> None:
    """List dead-lettered records: reason, stage and where the original record lives."""
    from rich.console import Console
    from rich.table import Table

    from citybrain.streams.inspect import dead_letters
    from citybrain.streams.topics import Topics

    s = _settings(config)
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


@app.command()
def run(
    job: Annotated[str, typer.Argument(help="vision | tickets | incidents")],
    config: ConfigOpt = None,
    idle_exit: Annotated[
        float | None, typer.Option(help="Exit after this many seconds without records")
    ] = None,
) -> None:
    """Run one pipeline as a member of its Kafka consumer group until SIGINT/SIGTERM."""
    from citybrain.runtime import run_job
    from pipelines import JOBS

    if job not in JOBS:
        typer.echo(f"unknown job {job!r}; choose one of {', '.join(JOBS)}", err=True)
        raise typer.Exit(2)
    _setup_logging()
    counters = run_job(job, _settings(config), idle_exit_s=idle_exit)
    typer.echo(json.dumps({"job": job, **counters}, sort_keys=True))


@app.command()
def simulate(
    config: ConfigOpt = None,
    seed: Annotated[int | None, typer.Option(help="Override simulator.seed")] = None,
    rate: Annotated[float | None, typer.Option(help="Records/s (0 = as fast as possible)")] = None,
    truth: Annotated[Path | None, typer.Option(help="Where to write the ground truth")] = None,
) -> None:
    """Produce the synthetic city's frames and tickets to Kafka and write the ground truth."""
    from citybrain.sim.produce import produce_city

    _setup_logging()
    s = _settings(config)
    updates = {
        k: v for k, v in (("seed", seed), ("rate", rate), ("ground_truth", truth)) if v is not None
    }
    s = s.model_copy(update={"simulator": s.simulator.model_copy(update=updates)})
    counts = produce_city(s)
    typer.echo(json.dumps(counts, sort_keys=True))


@app.command()
def web(config: ConfigOpt = None) -> None:
    """Serve the dashboard and the JSON API."""
    import uvicorn

    from citybrain.config import load_city
    from citybrain.store import Store
    from citybrain.web.app import create_app

    _setup_logging()
    s = _settings(config)
    application = create_app(load_city(s), Store.from_url(s.store.url))
    uvicorn.run(application, host=s.web.host, port=s.web.port, log_level="warning")


@app.command()
def demo(
    config: ConfigOpt = None,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: run until Ctrl-C)")
    ] = None,
    drain: Annotated[
        bool, typer.Option(help="Stop as soon as everything the simulator produced is processed")
    ] = False,
    workdir: Annotated[
        Path, typer.Option(help="Where the demo keeps its database and logs")
    ] = Path("var/demo"),
    summary_json: Annotated[Path | None, typer.Option(help="Also write the summary here")] = None,
) -> None:
    """Everything at once: broker, synthetic city, the three pipelines, store and web server."""
    from citybrain.demo import Demo

    _setup_logging()
    try:
        result = Demo(_settings(config), workdir).run(duration_s=duration, drain=drain)
    except CityBrainError as e:
        typer.echo(f"demo stopped: {e}", err=True)
        raise typer.Exit(1) from e
    if summary_json:
        summary_json.write_text(json.dumps(result, indent=2, sort_keys=True))
    if not result.get("ok", False):
        sys.exit(1)


if __name__ == "__main__":
    app()
