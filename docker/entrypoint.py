"""Entrypoint of the citybrain app image: `ROLE [ARGS...]` -> the citybrain command for it.

Roles: web, vision, tickets, incidents, dispatch (the stream jobs), cameras (the camera
gateway), validate-config, db (the schema: `db upgrade` in the Job that runs before a
rollout). In a
pod it also turns the PostgreSQL credentials CloudNativePG writes into its Secret (PGHOST,
PGPORT, PGDATABASE, PGUSER, PGPASSWORD) into CITYBRAIN_STORE__URL, with the password
URL-quoted, so no URL with a password is ever written into a manifest. A wrong role or half
a set of PG* variables stops the container with a message instead of starting a job that
would write to the wrong store.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from urllib.parse import quote

JOBS = ("vision", "tickets", "incidents", "dispatch")
PG_VARS = ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD")


class UsageError(ValueError):
    """The container was started with arguments or environment it cannot run with."""


def store_url(env: Mapping[str, str]) -> str | None:
    """postgresql+psycopg URL from the PG* variables, or None when none is set."""
    present = [v for v in PG_VARS if env.get(v)]
    if not present:
        return None
    missing = [v for v in PG_VARS if not env.get(v)]
    if missing:
        raise UsageError(f"PostgreSQL settings incomplete: {', '.join(missing)} not set")
    user, password = quote(env["PGUSER"], safe=""), quote(env["PGPASSWORD"], safe="")
    return (
        f"postgresql+psycopg://{user}:{password}@{env['PGHOST']}:{env['PGPORT']}"
        f"/{quote(env['PGDATABASE'], safe='')}"
    )


def plan(argv: Sequence[str], env: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """The command line and environment to exec for the container's arguments."""
    role, *rest = list(argv) or ["web"]
    if role in JOBS:
        command = ["citybrain", "run", role, *rest]
    elif role in ("web", "validate-config", "cameras", "db"):
        command = ["citybrain", role, *rest]
    else:
        roles = ", ".join(("web", "validate-config", "cameras", "db", *JOBS))
        raise UsageError(f"unknown role {role!r}; one of {roles}")
    out = dict(env)
    if not out.get("CITYBRAIN_STORE__URL"):
        url = store_url(out)
        if url is not None:
            out["CITYBRAIN_STORE__URL"] = url
    return command, out


def main(argv: Sequence[str] | None = None) -> int:
    try:
        command, env = plan(sys.argv[1:] if argv is None else argv, os.environ)
    except UsageError as e:
        print(f"citybrain-entrypoint: {e}", file=sys.stderr)
        return 2
    os.execvpe(command[0], command, env)
    return 0  # not reached: exec replaces this process


if __name__ == "__main__":
    sys.exit(main())
