"""Upgrades keep a city's data: the store's migrations on real SQLite and real PostgreSQL.

Each test gets an empty database of its own (a SQLite file; a fresh PostgreSQL schema) and
fills it through the schema of an older revision, as a city running that release would have.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from citybrain.cli import app
from citybrain.store import Store, schema
from citybrain.store.errors import SchemaError
from citybrain.store.models import EvidenceRow, IncidentRow
from citybrain.store.repository import make_engine
from tests.integration.conftest import PG_URL

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/city.db"
        return
    request.getfixturevalue("pg_url")  # starts PostgreSQL, or skips
    name = f"mig_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"create schema {name}"))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"drop schema {name} cascade"))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    e = make_engine(db_url)
    yield e
    e.dispose()


T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _value(table: str, col: sa.Column[Any], i: int) -> Any:
    """A distinct, typed value for row `i` of `table` (incident_id points at incident i)."""
    t = col.type
    if col.name == "incident_id" or (table == "incidents" and col.name == "id"):
        return f"inc-{i}"
    if isinstance(t, sa.JSON):
        return {"row": i, "of": table, "list": [1, 2, i]}
    if isinstance(t, sa.DateTime):
        return T0 + timedelta(minutes=i, seconds=len(col.name))
    if isinstance(t, sa.Boolean):
        return i % 2 == 0
    if isinstance(t, sa.Integer):
        return 10 * i + len(col.name)
    if isinstance(t, sa.Float):
        return i + len(col.name) / 100
    if isinstance(t, sa.LargeBinary):
        return bytes([i, 0, 255])
    length = getattr(t, "length", None) or 200
    return f"{col.name}-{i}-城市"[:length]


def _fill(engine: sa.Engine, rows_per_table: int = 2) -> dict[str, list[dict[str, Any]]]:
    """Rows in every table the database has now, written through its own (reflected) schema."""
    md = sa.MetaData()
    md.reflect(engine)
    with engine.begin() as conn:
        for table in md.sorted_tables:
            if table.name == schema.VERSION_TABLE:
                continue
            rows = [
                {c.name: _value(table.name, c, i) for c in table.columns}
                for i in range(rows_per_table)
            ]
            conn.execute(table.insert(), rows)
    return _read(engine, [t for t in md.tables if t != schema.VERSION_TABLE])


def _read(engine: sa.Engine, tables: list[str]) -> dict[str, list[dict[str, Any]]]:
    md = sa.MetaData()
    md.reflect(engine, only=tables)
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for name in tables:
            t = md.tables[name]
            rows = conn.execute(sa.select(t).order_by(*t.primary_key.columns)).mappings()
            out[name] = [dict(r) for r in rows]
    return out


def _only(rows: dict[str, list[dict[str, Any]]], like: dict[str, list[dict[str, Any]]]) -> Any:
    """`rows` restricted to the columns of `like` (what an older revision had)."""
    return {
        t: [{k: r[k] for k in like[t][0]} for r in rows[t]] if like[t] else rows[t] for t in like
    }


def test_upgrade_from_the_previous_releases_keeps_every_row(engine: sa.Engine) -> None:
    schema.upgrade(engine, "0001")  # the release before the JSON columns
    before = _fill(engine)
    assert len(before) == 12 and all(len(rows) == 2 for rows in before.values())

    assert schema.upgrade(engine) == ("0001", schema.head())

    after = _read(engine, list(before))
    assert _only(after, before) == before
    # the new columns are there, empty, and the code reads the old rows through them
    with Session(engine) as s:
        incident = s.get(IncidentRow, "inc-1")
        evidence = s.scalars(sa.select(EvidenceRow)).all()
    assert incident is not None and incident.routing_advice is None
    assert incident.category == "category-1-城市"
    assert [(e.advice, e.privacy_boxes) for e in evidence] == [(None, None)] * 2
    Store(engine).ping()

    # rolling back to the first release keeps its rows too
    assert schema.downgrade(engine, "0001") == (schema.head(), "0001")
    assert _read(engine, list(before)) == before


def test_models_and_the_latest_migration_agree(engine: sa.Engine) -> None:
    schema.upgrade(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, schema.metadata()) == []


def test_a_second_run_and_a_concurrent_run_migrate_once(engine: sa.Engine) -> None:
    """Two pods upgrading at once: this test is the first, holding the lock while it
    migrates; a real second process (`citybrain db upgrade`) starts meanwhile, waits for the
    lock, then finds the work done. Without the lock it fails on the tables the first made."""
    url = engine.url.render_as_string(hide_password=False)
    with schema.migration_lock(engine) as conn:
        second = subprocess.Popen(
            [sys.executable, "-m", "citybrain", "db", "upgrade", "--store", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert second.stderr is not None
        for line in second.stderr:  # it has reached the lock
            if "taking the migration lock" in line:
                break
        if engine.dialect.name == "postgresql":  # it waits for the lock (polled: a slow CI)
            waiting = "select count(*) from pg_locks where locktype = 'advisory' and not granted"
            probe = make_engine(PG_URL)
            deadline = time.monotonic() + 20
            with probe.connect() as other:
                while other.execute(sa.text(waiting)).scalar() != 1:
                    assert time.monotonic() < deadline, "the second upgrade never waited"
                    time.sleep(0.1)
            probe.dispose()
        else:
            time.sleep(0.5)  # SQLite shows no waiters; it waits up to 30 s on BEGIN IMMEDIATE
        assert second.poll() is None
        command.upgrade(schema._config(conn), "head")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert "already at 0003" in out
    assert schema.upgrade(engine) == ("0003", "0003")  # and a third, later run


def test_a_database_made_before_migrations_is_recognised(engine: sa.Engine) -> None:
    """An old citybrain made its tables with create_all and kept no version: the upgrade
    finds which release's tables they are, stamps that, and upgrades from there."""
    schema.upgrade(engine, "0001")
    before = _fill(engine)
    with engine.begin() as conn:
        conn.execute(sa.text(f"drop table {schema.VERSION_TABLE}"))
    assert schema.state(engine).describe().startswith("unversioned")

    assert schema.upgrade(engine) == ("0001", schema.head())
    assert _only(_read(engine, list(before)), before) == before


def test_a_database_create_all_made_at_head_is_stamped(engine: sa.Engine) -> None:
    schema.metadata().create_all(engine)  # what Store.from_url did before migrations
    assert schema.upgrade(engine) == (schema.head(), schema.head())


def test_unrecognised_tables_are_refused_and_left_alone(engine: sa.Engine) -> None:
    """Hand-made columns that match no release: a clear refusal, nothing changed."""
    schema.upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(sa.text(f"drop table {schema.VERSION_TABLE}"))
        conn.execute(sa.text("alter table evidence add column advice text"))  # half by hand
    with pytest.raises(SchemaError, match=r"nearest is 000[12]: .*evidence\.") as e:
        Store.from_url(str(engine.url.render_as_string(hide_password=False)))
    assert "citybrain db upgrade" in str(e.value)
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table(schema.VERSION_TABLE)
        assert "hot_issues" not in sa.inspect(conn).get_table_names()


def test_a_database_newer_than_the_code_is_refused(engine: sa.Engine) -> None:
    schema.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text(f"update {schema.VERSION_TABLE} set version_num = '0999'"))
    url = engine.url.render_as_string(hide_password=False)
    for auto in (True, False):
        with pytest.raises(SchemaError, match=r"'0999'.*newer citybrain"):
            Store.from_url(url, auto_migrate=auto)
    with pytest.raises(SchemaError, match="newer citybrain"):
        schema.upgrade(engine)


def test_without_auto_migrate_an_old_database_is_refused_untouched(engine: sa.Engine) -> None:
    schema.upgrade(engine, "0002")
    url = engine.url.render_as_string(hide_password=False)
    with pytest.raises(SchemaError, match=r"revision 0002.*needs revision 0003.*db upgrade"):
        Store.from_url(url, auto_migrate=False)
    assert schema.state(engine).revision == "0002"
    Store.from_url(url, auto_migrate=True)
    assert schema.state(engine).current


def test_a_failed_upgrade_leaves_the_database_as_it_was(engine: sa.Engine) -> None:
    """0003 creates hot_issues, then outbox; an outbox someone made by hand makes it fail
    half-way: hot_issues must not stay behind, nor the version move."""
    schema.upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(sa.text("create table outbox (seq integer primary key)"))
    with pytest.raises(sa.exc.DatabaseError):
        schema.upgrade(engine)
    assert schema.state(engine).revision == "0002"
    with engine.connect() as conn:
        assert "hot_issues" not in sa.inspect(conn).get_table_names()


def test_db_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/var/city.db"
    runner = CliRunner()
    current = runner.invoke(app, ["db", "current", "--store", url])
    assert current.exit_code == 1 and "empty" in current.output
    up = runner.invoke(app, ["db", "upgrade", "--store", url, "--to", "0002"])
    assert up.exit_code == 0 and "empty -> 0002" in up.output
    assert "1 upgrade(s) pending" in runner.invoke(app, ["db", "current", "--store", url]).output
    up = runner.invoke(app, ["db", "upgrade", "--store", url])
    assert up.exit_code == 0 and "0002 -> 0003" in up.output
    again = runner.invoke(app, ["db", "upgrade", "--store", url])
    assert "already at 0003" in again.output
    current = runner.invoke(app, ["db", "current", "--store", url])
    assert current.exit_code == 0 and "up to date" in current.output
    unsure = runner.invoke(app, ["db", "downgrade", "0001", "--store", url])
    assert unsure.exit_code == 1 and "pass --yes" in unsure.output  # data goes: asked first
    assert "up to date" in runner.invoke(app, ["db", "current", "--store", url]).output
    down = runner.invoke(app, ["db", "downgrade", "0001", "--yes", "--store", url])
    assert down.exit_code == 0 and "0003 -> 0001" in down.output
    bad = runner.invoke(app, ["db", "downgrade", "0042", "--yes", "--store", url])
    assert bad.exit_code == 1 and "unknown revision '0042'" in bad.output
    bad = runner.invoke(app, ["db", "downgrade", "0003", "--yes", "--store", url])  # newer
    assert bad.exit_code == 1 and "cannot roll back from 0001 to '0003'" in bad.output
    bad = runner.invoke(app, ["db", "upgrade", "--to", "0042", "--store", url])
    assert bad.exit_code == 1 and "cannot upgrade from 0001 to '0042'" in bad.output


def test_a_model_change_gets_its_revision_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The developer's side: `citybrain db revision` writes what the models added, with the
    UTC column spelled as the plain type, as the next numbered revision."""
    changed = sa.MetaData()
    for t in schema.metadata().sorted_tables:
        t.to_metadata(changed)
    from citybrain.store.models import UTCDateTime

    changed.tables["incidents"].append_column(sa.Column("closed_note_at", UTCDateTime()))
    monkeypatch.setattr(schema, "metadata", lambda: changed)
    path = schema.new_revision("incident closing note", into=tmp_path)
    text = path.read_text()
    assert path.name == "0004_incident_closing_note.py"
    assert "down_revision: str | None = '0003'" in text
    assert (
        "op.add_column('incidents', sa.Column('closed_note_at', sa.DateTime(timezone=True)" in text
    )
    assert "op.drop_column('incidents', 'closed_note_at')" in text
