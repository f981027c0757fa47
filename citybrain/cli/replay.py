"""Engineering tools: record, replay, export and diff runs (citybrain/replay/).

Plain functions: `citybrain.cli` registers them, in the order of `citybrain --help`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from citybrain.cli.common import ConfigOpt, fail, settings_of
from citybrain.errors import CityBrainError


def _time_ms(text: str | None, flag: str) -> int | None:
    """A --from/--to time as epoch milliseconds (None: open); exit 2 naming the flag."""
    from citybrain.replay.play import window_ms

    try:
        return window_ms(text)
    except ValueError as e:
        typer.echo(f"{flag}: not an ISO-8601 time: {text!r}", err=True)
        raise typer.Exit(2) from e


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

    s = settings_of(config)
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
        raise fail(e) from e
    state = "complete" if m.complete else "interrupted (rerun the same command to continue)"
    typer.echo(json.dumps({"archive": str(out), "records": m.records(), "state": state}))
    if not m.complete:
        raise typer.Exit(3)


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

    s = settings_of(config)
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
        raise fail(e) from e
    typer.echo(
        json.dumps(
            {"prefix": prefix, "produced": r.produced, "passes": r.passes, "shift_ms": r.shift_ms}
        )
    )


def export_run(
    out: Annotated[Path, typer.Option(help="Run folder to write")],
    config: ConfigOpt = None,
    store: Annotated[str | None, typer.Option(help="Store URL (default: store.url)")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing run folder")] = False,
) -> None:
    """Export what the pipelines produced (incidents, dispatches, summaries) as a run."""
    from citybrain.replay.runs import export_run as do_export
    from citybrain.store import Store

    s = settings_of(config)
    url = store or s.store.url
    try:
        counts = do_export(
            Store.from_url(url, s.store.auto_migrate), out, source=url.split("@")[-1], force=force
        )
    except CityBrainError as e:
        raise fail(e) from e
    typer.echo(json.dumps({"run": str(out), **counts}, sort_keys=True))


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
        raise fail(e) from e
    if as_json:
        typer.echo(json.dumps(d, indent=2, ensure_ascii=False))
    else:
        print_diff(d, str(run_a), str(run_b), Console())
    if exit_code and not d["identical"]:
        raise typer.Exit(1)
