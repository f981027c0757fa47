"""The `citybrain` command line."""

from __future__ import annotations

import typer

from citybrain.cli import cameras, checks, demo, redact, replay, streams, web
from citybrain.cli.audit import audit_app
from citybrain.cli.city import city_app
from citybrain.cli.db import db_app
from citybrain.cli.deliveries import deliveries_app
from citybrain.cli.evaluate import eval_app
from citybrain.cli.hot_issues import hot_issues
from citybrain.cli.models import models_app
from citybrain.cli.router import router_app

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

# Registered here, in one place, because this order is the order `citybrain --help` lists.
app.command("validate-config")(checks.validate_config)
app.command()(checks.schemas)
app.command()(streams.broker)
app.command()(streams.topics)
app.command()(streams.dlq)
app.command()(streams.run)
app.command()(streams.simulate)
app.command()(cameras.cameras)
app.command()(web.web)
app.command("hash-password")(web.hash_password)
app.command()(redact.redact)
app.command()(demo.demo)
app.command()(replay.record)
app.command()(replay.replay)
app.command("export-run")(replay.export_run)
app.command()(replay.diff)
app.command("hot-issues")(hot_issues)
app.add_typer(eval_app, name="eval")
app.add_typer(models_app, name="models")
app.add_typer(router_app, name="router")
app.add_typer(audit_app, name="audit")
app.add_typer(deliveries_app, name="deliveries")
app.add_typer(db_app, name="db")
app.add_typer(city_app, name="city")

__all__ = ["app"]
