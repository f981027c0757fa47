"""`citybrain demo`: everything at once, from one command.

Plain functions: `citybrain.cli` registers them, in the order of `citybrain --help`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from citybrain.cli.common import ConfigOpt, settings_of, setup_logging
from citybrain.errors import CityBrainError


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
    city: Annotated[
        Path | None,
        typer.Option(
            help="Run this city folder instead of city.dir (e.g. one `citybrain city import` "
            "wrote: config/cities/qinghe)"
        ),
    ] = None,
) -> None:
    """Everything at once: broker, synthetic city, the three pipelines, store and web server."""
    from citybrain.demo import Demo

    setup_logging()
    settings = settings_of(config)
    if city is not None:
        where = settings.city.model_copy(update={"dir": city, "name": city.name.title()})
        settings = settings.model_copy(update={"city": where})
    try:
        result = Demo(settings, workdir).run(duration_s=duration, drain=drain)
    except CityBrainError as e:
        typer.echo(f"demo stopped: {e}", err=True)
        raise typer.Exit(1) from e
    if summary_json:
        summary_json.write_text(json.dumps(result, indent=2, sort_keys=True))
    if not result.get("ok", False):
        sys.exit(1)
