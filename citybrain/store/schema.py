"""The store's schema version: Alembic revisions (store/migrations/) run under a lock, a
database made by create_all before migrations existed is recognised, and a database newer than
this code is refused, so an upgrade keeps a city's data instead of losing it or the service.

The lock: PostgreSQL's transaction-level advisory lock; SQLite's own write lock (`BEGIN
IMMEDIATE`). Every revision of one upgrade runs in that one transaction, so two pods starting
at once migrate once, and a failed upgrade leaves the database as it was.
"""

from __future__ import annotations

import logging
import os
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, MetaData, create_engine, event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from citybrain.store.errors import SchemaError

log = logging.getLogger(__name__)

SCRIPTS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"
# pg_advisory_xact_lock takes a bigint; a fixed one derived from a name, so every citybrain
# process (and nothing else) contends for it
LOCK_KEY = zlib.crc32(b"citybrain.store.schema")
# Alembic's `op` and `context` are process-wide: one run at a time within a process too
_ALEMBIC = threading.RLock()


def metadata() -> MetaData:
    """Every table of the store (the modules that define tables, imported for their side effect)."""
    from citybrain.store import outbox, summary_queue, web_models  # noqa: F401
    from citybrain.store.models import Base

    return Base.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Revisions spell the store's UTC column as the plain type it is in the database, so a
    revision never imports the models it outlives."""
    from citybrain.store.models import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


@cache
def scripts() -> ScriptDirectory:
    return ScriptDirectory(str(SCRIPTS))


def head() -> str:
    h = scripts().get_current_head()
    assert h is not None, "store/migrations has no revision"
    return h


def revisions() -> list[str]:
    """Known revisions, oldest first."""
    return [s.revision for s in reversed(list(scripts().walk_revisions()))]


def _config(conn: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.attributes["connection"] = conn
    return cfg


def _version(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands: its revision (None: unversioned), the code's head, and for an
    unversioned one whether it holds citybrain's tables at all."""

    revision: str | None
    head: str
    has_tables: bool

    @property
    def known(self) -> bool:
        return self.revision is None or self.revision in revisions()

    @property
    def current(self) -> bool:
        return self.revision == self.head

    def describe(self) -> str:
        if self.revision is None:
            if not self.has_tables:
                return f"empty (no tables); `citybrain db upgrade` creates revision {self.head}"
            return (
                "unversioned: made before migrations existed; `citybrain db upgrade` "
                "recognises its revision and upgrades it"
            )
        if not self.known:
            return _newer_message(self.revision)
        if self.current:
            return f"revision {self.revision} (head): up to date"
        pending = revisions().index(self.head) - revisions().index(self.revision)
        return f"revision {self.revision}; head is {self.head}: {pending} upgrade(s) pending"


def state(engine: Engine) -> SchemaState:
    """The database's schema state, read without a lock."""
    with engine.connect() as conn:
        rev = _version(conn)
        ours = rev is not None or bool(set(inspect(conn).get_table_names()) & _known_tables())
    return SchemaState(rev, head(), ours)


def _newer_message(rev: str) -> str:
    return (
        f"the database is at schema revision {rev!r}, which this citybrain (head {head()}) "
        "does not know: a newer citybrain upgraded it. Run that version, or roll the database "
        f"back with it first (`citybrain db downgrade {head()}` there); see docs/OPERATIONS.md"
    )


def ensure(engine: Engine, auto_migrate: bool) -> None:
    """At start: upgrade the database to head when `auto_migrate`, else refuse a database
    that is not at head; a database newer than the code is refused either way."""
    st = state(engine)
    if not st.known:
        raise SchemaError(_newer_message(st.revision or ""))
    if st.current:
        return
    if auto_migrate:
        upgrade(engine)
        return
    raise SchemaError(
        f"the database schema is {st.describe()}; this citybrain needs revision {st.head}. "
        "Run `citybrain db upgrade` (or set store.auto_migrate: true)"
    )


def upgrade(engine: Engine, target: str = "head") -> tuple[str | None, str | None]:
    """Upgrade to `target` under the lock; returns the revision before and after. A database
    already there is left alone (a second pod, or a second run, finds nothing to do)."""
    with migration_lock(engine) as conn:
        before = _version(conn)
        if before is not None and before not in revisions():
            raise SchemaError(_newer_message(before))
        if before is None:
            found = _recognise(conn)
            if found is not None:
                log.info("unversioned database matches revision %s: stamped", found)
                command.stamp(_config(conn), found)
            before = found
        try:
            command.upgrade(_config(conn), target)
        except CommandError as e:  # an unknown or older target: nothing was changed
            raise SchemaError(f"cannot upgrade from {before} to {target!r}: {e}") from e
        after = _version(conn)
    log.info("store schema: %s -> %s", before, after)
    return before, after


def downgrade(engine: Engine, target: str) -> tuple[str | None, str | None]:
    """Roll the schema back to `target` (a revision, or "base": nothing) under the lock."""
    with migration_lock(engine) as conn:
        before = _version(conn)
        if before is None:
            raise SchemaError("the database has no schema revision; nothing to roll back")
        if before not in revisions():
            raise SchemaError(_newer_message(before))
        if target != "base" and target not in revisions():
            raise SchemaError(f"unknown revision {target!r}; known: {', '.join(revisions())}")
        try:
            command.downgrade(_config(conn), target)
        except CommandError as e:  # e.g. a target newer than the database
            raise SchemaError(f"cannot roll back from {before} to {target!r}: {e}") from e
        after = _version(conn)
    return before, after


def new_revision(message: str, into: Path | None = None) -> Path:
    """Write the next revision: what the models have that the newest revision lacks
    (Alembic autogenerate against a scratch database at head). Read and edit it before
    committing: a rename, for one, comes out as a drop and an add."""
    target = into or SCRIPTS / "versions"
    engine = create_engine("sqlite://")
    try:
        with _ALEMBIC, engine.begin() as conn:
            cfg = _config(conn)
            command.upgrade(cfg, "head")
            cfg.set_main_option("path_separator", "os")
            cfg.set_main_option(
                "version_locations",
                os.pathsep.join(dict.fromkeys([str(SCRIPTS / "versions"), str(target)])),
            )
            script = command.revision(
                cfg,
                message,
                autogenerate=True,
                rev_id=f"{len(revisions()) + 1:04d}",
                version_path=str(target),
            )
    finally:
        engine.dispose()
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


@contextmanager
def migration_lock(engine: Engine) -> Iterator[Connection]:
    """One transaction that only one migrating process at a time holds, committed at exit."""
    log.info("taking the migration lock on %s", engine.url.render_as_string())
    with _ALEMBIC, _locked(engine) as conn:
        yield conn


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
            yield conn
        return
    if engine.dialect.name != "sqlite":
        raise SchemaError(f"no migration lock for {engine.dialect.name}: SQLite or PostgreSQL")
    if engine.url.database in (None, "", ":memory:"):  # one connection; nobody to race
        with engine.begin() as conn:
            yield conn
        return
    # A connection of its own in autocommit mode, so the driver leaves transactions to us and
    # BEGIN IMMEDIATE takes the write lock before the version is read (a second migrator waits
    # up to 30 s for it, then sees the work done).
    locked = create_engine(engine.url, poolclass=NullPool, connect_args={"timeout": 30})
    event.listen(locked, "connect", _autocommit)
    event.listen(locked, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    try:
        with locked.begin() as conn:
            yield conn
    finally:
        locked.dispose()


def _autocommit(dbapi_conn: Any, _: Any) -> None:
    dbapi_conn.isolation_level = None


# --- databases made before migrations: which revision are they? ---


def _columns(conn: Connection, tables: set[str]) -> dict[str, frozenset[str]]:
    insp = inspect(conn)
    return {t: frozenset(c["name"] for c in insp.get_columns(t)) for t in tables}


@cache
def schema_at(revision: str) -> dict[str, frozenset[str]]:
    """The tables and columns revision `revision` defines (run on an in-memory SQLite)."""
    engine = create_engine("sqlite://")
    try:
        with _ALEMBIC, engine.begin() as conn:
            command.upgrade(_config(conn), revision)
            tables = set(inspect(conn).get_table_names()) - {VERSION_TABLE}
            return _columns(conn, tables)
    finally:
        engine.dispose()


def _known_tables() -> set[str]:
    return set(metadata().tables) | {t for r in revisions() for t in schema_at(r)}


def _recognise(conn: Connection) -> str | None:
    """The revision an unversioned database's citybrain tables match exactly (newest first);
    None when it has none (empty: upgraded from scratch). Other tables are not ours and are
    ignored. A database that matches no revision is refused with its differences."""
    present = set(inspect(conn).get_table_names()) & _known_tables()
    if not present:
        return None
    actual = _columns(conn, present)
    diffs: dict[str, list[str]] = {}
    for rev in reversed(revisions()):
        expected = schema_at(rev)
        if expected == actual:
            return rev
        diffs[rev] = _differences(expected, actual)
    nearest = min(diffs, key=lambda r: len(diffs[r]))
    raise SchemaError(
        "the database has citybrain tables but no schema revision, and they match no known "
        f"revision; nearest is {nearest}: " + "; ".join(diffs[nearest]) + ". Bring the tables "
        "to that revision by hand (or restore a backup), then run `citybrain db upgrade` again"
    )


def _differences(
    expected: dict[str, frozenset[str]], actual: dict[str, frozenset[str]]
) -> list[str]:
    out = [f"missing table {t}" for t in sorted(set(expected) - set(actual))]
    out += [f"table {t} is newer than it" for t in sorted(set(actual) - set(expected))]
    for t in sorted(set(expected) & set(actual)):
        out += [f"missing column {t}.{c}" for c in sorted(expected[t] - actual[t])]
        out += [f"extra column {t}.{c}" for c in sorted(actual[t] - expected[t])]
    return out
