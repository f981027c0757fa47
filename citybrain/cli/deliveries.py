"""`citybrain deliveries ...`: the webhook outbox (dispatch deliveries)."""

from __future__ import annotations

from typing import Annotated

import typer

from citybrain.cli.common import ConfigOpt, settings_of

deliveries_app = typer.Typer(help="Webhook deliveries to the departments.", no_args_is_help=True)


@deliveries_app.command("redrive")
def redrive(
    config: ConfigOpt = None,
    department: Annotated[
        str | None, typer.Option(help="Only this department's dead deliveries")
    ] = None,
    delivery: Annotated[
        list[str] | None, typer.Option("--id", help="Only these delivery ids (repeatable)")
    ] = None,
) -> None:
    """Put dead-lettered deliveries back in the queue: after a receiver's long outage, once it
    answers again. They are sent with their original Idempotency-Key, after what is queued."""
    from citybrain.store import Store

    s = settings_of(config)
    ids = Store.open(s.store).redrive_deliveries(department, delivery or ())
    typer.echo(f"{len(ids)} dead delivery(ies) queued again")
    for i in ids:
        typer.echo(f"  {i}")
