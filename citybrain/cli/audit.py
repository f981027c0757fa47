"""`citybrain audit ...`: the model-call audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from citybrain.cli.common import ConfigOpt, settings_of

audit_app = typer.Typer(help="The model-call audit log.", no_args_is_help=True)


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

    s = settings_of(config)
    rows = Store.open(s.store).model_calls(incident, limit)
    with out.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(call_dict(r), ensure_ascii=False) + "\n")
    typer.echo(f"{len(rows)} model call(s) -> {out}")
