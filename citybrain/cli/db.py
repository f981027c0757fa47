"""`citybrain db ...`: the store's schema version (store/schema.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from citybrain.cli.common import ConfigOpt, fail, settings_of, setup_logging
from citybrain.errors import CityBrainError

if TYPE_CHECKING:
    from sqlalchemy import Engine

db_app = typer.Typer(help="The store's schema: upgrade, roll back, show.", no_args_is_help=True)

StoreOpt = Annotated[str | None, typer.Option("--store", help="Store URL (default: store.url)")]


@contextmanager
def _opened(config: ConfigOpt, store: str | None) -> Iterator[Engine]:
    """An engine on the store, without touching its schema (Store.from_url would); disposed
    after, a known error turned into the message and exit code 1."""
    from citybrain.store.repository import make_engine

    engine = make_engine(store or settings_of(config).store.url)
    try:
        yield engine
    except CityBrainError as e:
        raise fail(e) from e
    finally:
        engine.dispose()


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
    with _opened(config, store) as engine:
        before, after = schema.upgrade(engine, to)
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
    with _opened(config, store) as engine:
        before, after = schema.downgrade(engine, to)
    typer.echo(f"{_where(str(engine.url))}: {before} -> {after or 'base'}")


@db_app.command("current")
def db_current(config: ConfigOpt = None, store: StoreOpt = None) -> None:
    """Show the database's schema revision and this code's; exit 1 unless they are equal."""
    from citybrain.store import schema

    with _opened(config, store) as engine:
        st = schema.state(engine)
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
