"""`citybrain cameras`: the gateway from real camera streams to `<prefix>.frames`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from citybrain.cli.common import ConfigOpt, settings_of, setup_logging
from citybrain.errors import CityBrainError


def cameras(
    config: ConfigOpt = None,
    camera: Annotated[
        list[str] | None, typer.Option(help="Read only this camera (repeatable)")
    ] = None,
    shard: Annotated[
        str | None, typer.Option(help="INDEX/COUNT: this gateway's shard of the cameras")
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: until signal)")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve the gateway's /metrics here (workers.metrics_port)")
    ] = None,
) -> None:
    """Read every camera's stream (RTSP, HTTP MJPEG/HLS, file), sample, motion-gate and send
    JPEG frames to <prefix>.frames; camera health to <prefix>.alerts and the dashboard."""
    from citybrain.cameras.service import run_gateway
    from citybrain.runtime import stop_on_signals

    setup_logging()
    s = settings_of(config)
    updates: dict[str, object] = {}
    if shard is not None:
        try:
            index, count = (int(x) for x in shard.split("/"))
        except ValueError:
            typer.echo(f"--shard {shard!r}: expected INDEX/COUNT, e.g. 0/4", err=True)
            raise typer.Exit(2) from None
        updates = {"shard_index": index, "shard_count": count}
    try:
        if updates:
            merged = s.cameras.model_dump() | updates
            s = s.model_copy(update={"cameras": type(s.cameras).model_validate(merged)})
        if metrics_port is not None:
            workers = s.workers.model_copy(update={"metrics_port": metrics_port})
            s = s.model_copy(update={"workers": workers})
        counters = run_gateway(s, stop_on_signals(), camera or (), duration)
    except (CityBrainError, ValueError) as e:
        typer.echo(f"cameras: cannot start: {e}", err=True)
        raise typer.Exit(2) from e
    totals = {k: v for k, v in counters.items() if not k.startswith("camera.")}
    typer.echo(json.dumps({"job": "cameras", **totals}, sort_keys=True))
