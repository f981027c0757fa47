"""The `citybrain` command line."""

from __future__ import annotations

import io
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
    from citybrain.city_loading import load_all

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
    from citybrain.core.schemas import SCHEMA_TYPES, json_schema

    out.mkdir(parents=True, exist_ok=True)
    for name in SCHEMA_TYPES:
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(json_schema(name), indent=2, ensure_ascii=False) + "\n")
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
    _setup_logging()
    settings = _settings(config)
    if metrics_port is not None:
        workers = settings.workers.model_copy(update={"metrics_port": metrics_port})
        settings = settings.model_copy(update={"workers": workers})
    try:
        counters = run_job(job, settings, idle_exit_s=idle_exit)
    except CityBrainError as e:  # e.g. a router artefact that does not fit this city
        typer.echo(f"{job}: cannot start: {e}", err=True)
        raise typer.Exit(2) from e
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

    from citybrain.city_loading import load_city
    from citybrain.store import Store
    from citybrain.web.app import create_app
    from citybrain.web.bus import KafkaBus

    _setup_logging()
    s = _settings(config)
    bus = KafkaBus(s.kafka, s.web.kafka_timeout_s, s.web.kafka_retry_after_s)
    try:
        application = create_app(load_city(s), Store.from_url(s.store.url), s, bus)
    except ConfigError as e:
        typer.echo("\n".join(e.problems), err=True)
        raise typer.Exit(2) from e
    try:
        # Live dashboards hold connections open; cut them after 5 s so a stop never hangs
        # (browsers reconnect to the next server and catch up).
        uvicorn.run(
            application,
            host=s.web.host,
            port=s.web.port,
            log_level="warning",
            timeout_graceful_shutdown=5,
        )
    finally:
        bus.close()


@app.command("hash-password")
def hash_password() -> None:
    """Print the argon2 hash of a password read from the terminal (for web.users)."""
    from citybrain.web.auth import hash_password as argon2_hash

    password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    typer.echo(argon2_hash(password))


@app.command()
def redact(
    file: Annotated[
        Path | None, typer.Argument(help="Text file to redact (default: standard input)")
    ] = None,
    house_numbers: Annotated[
        bool, typer.Option(help="Also redact house numbers, as tickets.redact_house_numbers does")
    ] = False,
    encoding: Annotated[str, typer.Option(help="Encoding of the input")] = "utf-8",
) -> None:
    """Print the text as it leaves the building: the ticket path's redaction, line by line.

    What was removed is counted on standard error, so the output stays pipeable."""
    from collections import Counter

    from citybrain.core.redaction import redact as redact_text

    counts: Counter[str] = Counter()
    try:
        stream = (
            file.open(encoding=encoding, newline="")
            if file
            else io.TextIOWrapper(sys.stdin.buffer, encoding=encoding, newline="")
        )
    except (OSError, LookupError) as e:
        typer.echo(f"cannot read {file or 'stdin'}: {e}", err=True)
        raise typer.Exit(2) from e
    try:
        for line in stream:
            r = redact_text(line, house_numbers=house_numbers)
            counts.update(r.counts)
            sys.stdout.write(r.text)
    except UnicodeDecodeError as e:
        typer.echo(f"{file or 'stdin'} is not {encoding}: {e} (try --encoding gb18030)", err=True)
        raise typer.Exit(2) from e
    finally:
        if file:
            stream.close()
        else:
            stream.detach()  # standard input stays open for whoever owns it
    sys.stdout.flush()
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing"
    typer.echo(f"redacted: {summary}", err=True)


@app.command()
def demo(
    config: ConfigOpt = None,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: run until Ctrl-C)")
    ] = None,
    drain: Annotated[
        bool,
        typer.Option(
            help="Stop once everything the simulator produced is processed and summarised"
        ),
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


# --- engineering tools: record, replay, export and diff runs, evaluate (citybrain/replay/) ---
def _fail(e: CityBrainError) -> typer.Exit:
    typer.echo(f"error: {e}", err=True)
    return typer.Exit(1)


def _time_ms(text: str | None, flag: str) -> int | None:
    from citybrain.replay.play import window_ms

    try:
        return window_ms(text)
    except ValueError as e:
        typer.echo(f"{flag}: not an ISO-8601 time: {text!r}", err=True)
        raise typer.Exit(2) from e


@app.command()
def record(
    out: Annotated[Path, typer.Argument(help="Archive folder to create")],
    config: ConfigOpt = None,
    topics: Annotated[str, typer.Option(help="Short topic names, comma-separated")] = (
        "frames,tickets"
    ),
    from_: Annotated[
        str | None, typer.Option("--from", help="Window start, ISO-8601 (record timestamp)")
    ] = None,
    to: Annotated[str | None, typer.Option(help="Window end, ISO-8601 (default: now)")] = None,
    prefix: Annotated[str | None, typer.Option(help="Namespace to record from")] = None,
    max_records: Annotated[
        int | None, typer.Option(help="Stop after this many records; a rerun continues")
    ] = None,
    raw: Annotated[
        bool, typer.Option(help="Keep tickets' personal data (default: replaced, as redact does)")
    ] = False,
) -> None:
    """Capture topics into a portable archive (docs/ARCHIVE.md); a rerun resumes. Tickets are
    archived redacted unless --raw."""
    from citybrain.replay.record import record as do_record
    from citybrain.runtime import stop_on_signals

    s = _settings(config)
    kafka = s.kafka.model_copy(update={"topic_prefix": prefix}) if prefix else s.kafka
    try:
        m = do_record(
            kafka,
            [t.strip() for t in topics.split(",") if t.strip()],
            out,
            _time_ms(from_, "--from"),
            _time_ms(to, "--to"),
            max_records=max_records,
            stop=stop_on_signals(),
            show_progress=True,
            raw=raw,
        )
    except CityBrainError as e:
        raise _fail(e) from e
    state = "complete" if m.complete else "interrupted (rerun the same command to continue)"
    typer.echo(json.dumps({"archive": str(out), "records": m.records(), "state": state}))
    if not m.complete:
        raise typer.Exit(3)


@app.command()
def replay(
    archive: Annotated[Path, typer.Argument(help="Archive folder made by `citybrain record`")],
    prefix: Annotated[str, typer.Option(help="Target topic namespace (should be fresh)")],
    config: ConfigOpt = None,
    speed: Annotated[str, typer.Option(help="1 = real time, 10 = ten times faster, max")] = "max",
    loop: Annotated[
        int, typer.Option(min=0, help="Passes over the archive (0 = until Ctrl-C)")
    ] = 1,
    shift_to_now: Annotated[
        bool, typer.Option(help="Move every time in the records so the first happens now")
    ] = False,
    cameras: Annotated[str | None, typer.Option(help="Only these cameras' frames")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="Window start, ISO-8601")] = None,
    to: Annotated[str | None, typer.Option(help="Window end, ISO-8601")] = None,
    force: Annotated[bool, typer.Option(help="Produce even if the namespace has data")] = False,
) -> None:
    """Produce an archive into a topic namespace, keeping per-key order and relative timing."""
    from citybrain.replay.play import ReplayOptions, parse_speed
    from citybrain.replay.play import replay as do_replay
    from citybrain.runtime import stop_on_signals

    s = _settings(config)
    try:
        opts = ReplayOptions(
            speed=parse_speed(speed),
            loops=loop,
            shift_to_now=shift_to_now,
            cameras=frozenset(c.strip() for c in cameras.split(",")) if cameras else None,
            from_ms=_time_ms(from_, "--from"),
            to_ms=_time_ms(to, "--to"),
            force=force,
        )
    except ValueError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from e
    kafka = s.kafka.model_copy(update={"topic_prefix": prefix})
    try:
        r = do_replay(archive, kafka, opts, stop=stop_on_signals(), show_progress=True)
    except CityBrainError as e:
        raise _fail(e) from e
    typer.echo(
        json.dumps(
            {"prefix": prefix, "produced": r.produced, "passes": r.passes, "shift_ms": r.shift_ms}
        )
    )


@app.command("export-run")
def export_run(
    out: Annotated[Path, typer.Option(help="Run folder to write")],
    config: ConfigOpt = None,
    store: Annotated[str | None, typer.Option(help="Store URL (default: store.url)")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing run folder")] = False,
) -> None:
    """Export what the pipelines produced (incidents, dispatches, summaries) as a run."""
    from citybrain.replay.runs import export_run as do_export
    from citybrain.store import Store

    s = _settings(config)
    url = store or s.store.url
    try:
        counts = do_export(Store.from_url(url), out, source=url.split("@")[-1], force=force)
    except CityBrainError as e:
        raise _fail(e) from e
    typer.echo(json.dumps({"run": str(out), **counts}, sort_keys=True))


@app.command()
def diff(
    run_a: Annotated[Path, typer.Argument(help="Run folder (citybrain export-run)")],
    run_b: Annotated[Path, typer.Argument(help="Run folder to compare with")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
    tolerance_s: Annotated[float, typer.Option(help="Incidents this close in time can match")] = (
        300.0
    ),
    distance_m: Annotated[float, typer.Option(help="Incidents this close can match")] = 200.0,
    align: Annotated[
        bool, typer.Option(help="Shift B so its first incident opens with A's (time-shifted runs)")
    ] = False,
    exit_code: Annotated[bool, typer.Option(help="Exit 1 when the runs differ")] = False,
) -> None:
    """What appeared, disappeared or changed department between two runs."""
    from rich.console import Console

    from citybrain.replay.diff import MatchRules, diff_runs
    from citybrain.replay.render import print_diff
    from citybrain.replay.runs import load_run

    try:
        d = diff_runs(
            load_run(run_a), load_run(run_b), MatchRules(tolerance_s, distance_m, align)
        ).as_dict()
    except CityBrainError as e:
        raise _fail(e) from e
    if as_json:
        typer.echo(json.dumps(d, indent=2, ensure_ascii=False))
    else:
        print_diff(d, str(run_a), str(run_b), Console())
    if exit_code and not d["identical"]:
        raise typer.Exit(1)


eval_app = typer.Typer(help="Evaluate against labelled data.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


@eval_app.command("detections")
def eval_detections(
    images_dir: Annotated[
        Path, typer.Argument(help="Folder of labelled images, or a YOLO dataset's data.yaml")
    ],
    config: ConfigOpt = None,
    labels: Annotated[str, typer.Option(help="yolo | coco")] = "yolo",
    map_: Annotated[
        Path | None, typer.Option("--map", help="Class map YAML (names, map); see docs/ARCHIVE.md")
    ] = None,
    annotations: Annotated[
        Path | None, typer.Option(help="COCO JSON (default IMAGES_DIR/annotations.json)")
    ] = None,
    scene: Annotated[
        bool, typer.Option(help="Evaluate CLIP scene categories (one sub-folder per category)")
    ] = False,
    split: Annotated[
        str | None,
        typer.Option(help="Only the images of this fixed file-name split (train | val; YOLO)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Per-class precision, recall and AP50 of the detector, plus frames/s."""
    from rich.console import Console

    from citybrain.city_loading import load_city
    from citybrain.replay import labels as lab
    from citybrain.replay.eval_detections import evaluate_detections, evaluate_scenes
    from citybrain.replay.render import print_detections, print_scenes
    from citybrain.replay.scene import load_scene_scorer
    from citybrain.vision.scene import BACKGROUND

    _setup_logging()
    s = _settings(config)
    try:
        if scene:
            scorer = load_scene_scorer(s)
            categories = [c.id for c in load_city(s).categories if c.clip_prompts]
            categories.append(BACKGROUND)  # a folder of ordinary street views is a label too
            data = lab.load_scene_folders(images_dir, set(categories))
            result = evaluate_scenes(data, scorer, categories)
        else:
            if labels not in ("yolo", "coco"):
                typer.echo("--labels must be yolo or coco", err=True)
                raise typer.Exit(2)
            is_data_yaml = images_dir.suffix in (".yaml", ".yml")
            if map_ is None and not is_data_yaml:
                typer.echo("--map classes.yaml is required (optional with a data.yaml)", err=True)
                raise typer.Exit(2)
            if split not in (None, "train", "val"):
                typer.echo("--split must be train or val", err=True)
                raise typer.Exit(2)
            from citybrain.vision.detector import Detector

            detector = Detector.load(s.vision)
            classes = [detector.names[i] for i in sorted(detector.names)]
            dataset_names = None
            if is_data_yaml:
                images_dir, dataset_names = lab.load_data_yaml(images_dir)
            cmap = (
                lab.ClassMap.load(map_, set(classes), dataset_names)
                if map_ is not None
                else lab.ClassMap(dataset_names or {}, {}, frozenset(classes))
            )
            items = (
                lab.load_yolo(images_dir, cmap, split)
                if labels == "yolo"
                else lab.load_coco(images_dir, annotations or images_dir / "annotations.json", cmap)
            )
            categories_of: dict[str, list[str]] = {}
            for cat in load_city(s).categories:
                for cls in cat.detector_classes:
                    categories_of.setdefault(cls, []).append(cat.id)
            result = evaluate_detections(
                items, detector.detect, classes, s.vision.batch_size, categories_of
            )
    except CityBrainError as e:
        raise _fail(e) from e
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    elif scene:
        print_scenes(result, Console())
    else:
        print_detections(result, Console())


@eval_app.command("incidents")
def eval_incidents(
    run_dir: Annotated[Path, typer.Argument(help="Run folder (citybrain export-run)")],
    truth: Annotated[Path, typer.Option(help="Simulator ground truth JSON")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Incident precision/recall, duplicates, time to detection, routing accuracy vs the truth."""
    from rich.console import Console

    from citybrain.replay.eval_incidents import evaluate_incidents
    from citybrain.replay.render import print_incident_eval
    from citybrain.replay.runs import load_run

    try:
        data = json.loads(truth.read_text(encoding="utf-8"))
        result = evaluate_incidents(load_run(run_dir), data)
    except (OSError, ValueError, KeyError) as e:
        typer.echo(f"error: {truth}: not a ground-truth file: {e}", err=True)
        raise typer.Exit(1) from e
    except CityBrainError as e:
        raise _fail(e) from e
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        print_incident_eval(result, Console())


@eval_app.command("summaries")
def eval_summaries(
    run_dir: Annotated[
        Path | None,
        typer.Argument(help="Run folder (citybrain export-run) whose model summaries to score"),
    ] = None,
    labelled: Annotated[
        Path | None,
        typer.Option("--set", help="Labelled incident set (JSONL): ask the configured model"),
    ] = None,
    build_set: Annotated[
        Path | None, typer.Option("--build-set", help="Write the synthetic labelled set here")
    ] = None,
    per_language: Annotated[int, typer.Option(help="Incidents per language (--build-set)")] = 30,
    language: Annotated[
        str | None, typer.Option(help="Language of a run's summaries (default llm.language)")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="Score only the first N of each language of --set")
    ] = None,
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Summaries against their evidence: facts (category, place, count, time), personal
    data, language, length; pass rate and failures by kind."""
    from rich.console import Console

    from citybrain.city_loading import load_city
    from citybrain.replay import eval_summaries as ev
    from citybrain.replay.render import print_summary_eval
    from citybrain.replay.runs import load_run

    settings = _settings(config)
    city = load_city(settings)
    if build_set is not None:
        rows = ev.build_set(city, settings, list(range(20_000, 20_400)), per_language)
        build_set.parent.mkdir(parents=True, exist_ok=True)
        build_set.write_text(
            "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows),
            encoding="utf-8",
        )
        typer.echo(f"{len(rows)} labelled incidents -> {build_set}")
        return
    try:
        if labelled is not None:
            from citybrain.llm.session import model_client

            cases = ev.load_set(labelled)
            if limit is not None:
                by_lang = {
                    lang: [c for c in cases if c["language"] == lang] for lang in ("zh", "en")
                }
                cases = [c for part in by_lang.values() for c in part[:limit]]
            with model_client(settings.llm) as client:
                if client is None:
                    typer.echo("error: llm.enabled is off: nothing to ask", err=True)
                    raise typer.Exit(1)
                result = ev.evaluate_set(city, settings, client, cases)
        elif run_dir is not None:
            result = ev.evaluate_run(city, load_run(run_dir), language or settings.llm.language)
        else:
            typer.echo("error: give a RUN folder, --set FILE or --build-set FILE", err=True)
            raise typer.Exit(2)
    except (OSError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    except CityBrainError as e:
        raise _fail(e) from e
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_summary_eval(result.to_dict(), Console())


models_app = typer.Typer(no_args_is_help=True, help="Model files: export for serving.")
app.add_typer(models_app, name="models")


@models_app.command("export")
def models_export(
    config: ConfigOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Repository folder (default: vision.triton.model_repository)"),
    ] = None,
    gpu: Annotated[bool, typer.Option(help="Instance groups on the GPU (KIND_GPU)")] = False,
    instances: Annotated[int, typer.Option(help="Model instances per model")] = 1,
    max_batch: Annotated[int, typer.Option(help="Triton max_batch_size")] = 64,
    max_queue_delay_us: Annotated[int, typer.Option(help="Dynamic batching queue delay")] = 2000,
) -> None:
    """Write the Triton model repository: detector and clip_image, Python backend + TorchScript."""
    from citybrain.vision.export import ServingOptions, export_repository, standard_models

    _setup_logging()
    s = _settings(config)
    target = out or s.vision.triton.model_repository
    opts = ServingOptions(
        max_batch_size=max_batch,
        max_queue_delay_us=max_queue_delay_us,
        kind="gpu" if gpu else "cpu",
        instances=instances,
    )
    try:
        digests = export_repository(target, standard_models(s.vision), opts)
    except (FileNotFoundError, ValueError) as e:
        typer.echo(f"export failed: {e}", err=True)
        raise typer.Exit(1) from e
    for path, digest in digests.items():
        typer.echo(f"{digest[:12]}  {target / path}")


@eval_app.command("routing")
def eval_routing(
    file: Annotated[Path, typer.Argument(help="Labelled CSV of tickets")],
    text_col: Annotated[str, typer.Option("--text-col", help="Column with the ticket text")],
    label_col: Annotated[str, typer.Option("--label-col", help="Column with the true label")],
    label_map: Annotated[
        Path | None, typer.Option("--map", help="YAML: label -> department id")
    ] = None,
    folds: Annotated[
        int | None, typer.Option("--cv", help="Cross-validate a router trained on FILE, K folds")
    ] = None,
    router_dir: Annotated[
        Path | None, typer.Option("--router", help="Evaluate this trained router artefact")
    ] = None,
    district_col: Annotated[
        str | None, typer.Option("--district-col", help="District column (router only)")
    ] = None,
    address_col: Annotated[
        str | None, typer.Option("--address-col", help="Column with the address as typed")
    ] = None,
    lat_col: Annotated[str | None, typer.Option("--lat-col", help="Reporter's latitude")] = None,
    lon_col: Annotated[str | None, typer.Option("--lon-col", help="Reporter's longitude")] = None,
    model: Annotated[str, typer.Option(help="With --cv: logreg or svm (calibrated)")] = "logreg",
    config: ConfigOpt = None,
    llm: Annotated[bool, typer.Option(help="Let the model decide ambiguous tickets")] = True,
    limit: Annotated[int | None, typer.Option(help="Only the first N rows")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the scores")] = None,
) -> None:
    """Route every ticket of a labelled CSV as the pipeline would; print accuracy, macro-F1,
    the confusion matrix and how each decision was made. `--cv K` cross-validates a router
    trained on the file itself; `--router DIR` scores a trained router (and, with --map, the
    pipeline's decision order with it). Both report the coverage-precision curve."""
    from rich.console import Console

    from citybrain.city_loading import load_city
    from citybrain.core.history import Columns
    from citybrain.llm.session import model_client
    from citybrain.replay.eval_router import cv_on_file, cv_tables, trained_on_file
    from citybrain.replay.eval_routing import (
        TicketColumns,
        evaluate_routing,
        load_label_map,
        read_rows,
        report_table,
    )
    from citybrain.text.router import RouterOptions

    _setup_logging()
    s = _settings(config)
    if not llm:
        s = s.model_copy(update={"llm": s.llm.model_copy(update={"enabled": False})})
    city = load_city(s)
    cols = Columns(text_col, label_col, district_col)
    console = Console()
    out: dict[str, object] = {}
    try:
        labels = load_label_map(label_map, city) if label_map else None
        if folds is not None:
            if model not in ("svm", "logreg"):
                raise CityBrainError("--model is svm or logreg")
            opts = RouterOptions(model=model)  # type: ignore[arg-type]
            cv, report = cv_on_file(file, cols, folds, labels, opts)
            console.print(*cv_tables(cv, report, f"router, {folds}-fold cross-validation"))
            out = {**cv.as_dict(), "history": report.as_dict()}
        router = None
        if router_dir is not None:
            from citybrain.text.artefact import load_router

            router, manifest = load_router(router_dir)
            res, report, at_thr = trained_on_file(file, cols, router, labels)
            console.print(*cv_tables(res, report, f"router {manifest.router_id}"))
            console.print(f"at the router's own threshold: {at_thr}")
            out["router"] = {**res.as_dict(), "at_router_threshold": at_thr}
        if folds is None and (router_dir is None or labels is not None):
            if labels is None:
                raise CityBrainError("--map is needed to route as the pipeline does")
            if router is not None and router.kind == "label":
                raise CityBrainError("the router's labels are not this city's departments")
            with model_client(s.llm) as client:
                result = evaluate_routing(
                    read_rows(file, limit), text_col, label_col, labels, s, city, client,
                    router=router, columns=TicketColumns(address_col, lat_col, lon_col),
                )  # fmt: skip
            console.print(*report_table(result, city))
            out = {**result.as_dict(), **out} if out else result.as_dict()
    except CityBrainError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from e
    if json_out:
        json_out.write_text(json.dumps(out, indent=2, sort_keys=True, ensure_ascii=False))


from citybrain.cli_router import router_app  # noqa: E402  (the router's own command group)

app.add_typer(router_app, name="router")

audit_app = typer.Typer(help="The model-call audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option("--out", help="JSON lines file to write")],
    config: ConfigOpt = None,
    incident: Annotated[str | None, typer.Option(help="Only this incident's calls")] = None,
    limit: Annotated[int, typer.Option(help="At most this many calls, newest first")] = 100_000,
) -> None:
    """Export model calls (redacted prompt, response, model, latency, outcome) as JSON lines."""
    from citybrain.store import Store
    from citybrain.store.model_step import call_dict

    s = _settings(config)
    rows = Store.from_url(s.store.url).model_calls(incident, limit)
    with out.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(call_dict(r), ensure_ascii=False) + "\n")
    typer.echo(f"{len(rows)} model call(s) -> {out}")


if __name__ == "__main__":
    app()
