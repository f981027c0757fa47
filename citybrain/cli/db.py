"""`citybrain db ...`: the store's schema version (store/schema.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from citybrain.cli.common import ConfigOpt, fail, settings_of, setup_logging
from citybrain.errors import CityBrainError

db_app = typer.Typer(help="The store's schema: upgrade, roll back, show.", no_args_is_help=True)

StoreOpt = Annotated[str | None, typer.Option("--store", help="Store URL (default: store.url)")]


def _engine(config: ConfigOpt, store: str | None):  # type: ignore[no-untyped-def]
    """An engine on the store, without touching its schema (Store.from_url would)."""
    from citybrain.store.repository import make_engine

    return make_engine(store or settings_of(config).store.url)


def _where(url: str) -> str:
    return url.split("@")[-1]  # never the password


@db_app.command("upgrade")
def db_upgrade(
    config: ConfigOpt = None,
    store: StoreOpt = None,
    to: Annotated[str, typer.Option(help="Revision to upgrade to")] = "head",
) -> None:
    """Upgrade the database to this code's schema (or --to REV), under the migration lock.

    Safe to run twice or from two pods at once; a database made before migrations existed is
    recognised. Run it once before rolling out a new version."""
    from citybrain.store import schema

    setup_logging()
    engine = _engine(config, store)
    try:
        before, after = schema.upgrade(engine, to)
    except CityBrainError as e:
        raise fail(e) from e
    finally:
        engine.dispose()
    word = "already at" if before == after else f"{before or 'empty'} ->"
    typer.echo(f"{_where(str(engine.url))}: {word} {after}")


@db_app.command("downgrade")
def db_downgrade(
    to: Annotated[str, typer.Argument(help="Revision to roll back to ('base': drop everything)")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Drop what came after REV, with its data (backup first)")
    ] = False,
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """Roll the schema back to REV, with the code that upgraded it, before running older code.
    Columns and tables added after REV are dropped with their data: take a backup first."""
    from citybrain.store import schema

    if not yes:
        raise fail(
            CityBrainError(
                f"rolling back to {to} drops the columns and tables added after it, with their "
                "data (unsent outbox messages, queued summaries): take a backup, then pass --yes"
            )
        )
    setup_logging()
    engine = _engine(config, store)
    try:
        before, after = schema.downgrade(engine, to)
    except CityBrainError as e:
        raise fail(e) from e
    finally:
        engine.dispose()
    typer.echo(f"{_where(str(engine.url))}: {before} -> {after or 'base'}")


@db_app.command("current")
def db_current(config: ConfigOpt = None, store: StoreOpt = None) -> None:
    """Show the database's schema revision and this code's; exit 1 unless they are equal."""
    from citybrain.store import schema

    engine = _engine(config, store)
    try:
        st = schema.state(engine)
    finally:
        engine.dispose()
    typer.echo(f"{_where(str(engine.url))}: {st.describe()}")
    typer.echo(f"this citybrain: head {st.head} (revisions {', '.join(schema.revisions())})")
    if not st.current:
        raise typer.Exit(1)


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Argument(help="What the schema change is, in a few words")],
) -> None:
    """For developers: write the next revision into citybrain/store/migrations/versions/ from
    what the models have that the newest revision lacks. Every schema change ships one."""
    from citybrain.store import schema

    path = schema.new_revision(message)
    typer.echo(f"{path}: read it, adjust it, run the migration tests")
