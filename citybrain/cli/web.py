"""Serving the web and making the password hashes its users are configured with.

Plain functions: `citybrain.cli` registers them, in the order of `citybrain --help`.
"""

from __future__ import annotations

import typer

from citybrain.cli.common import ConfigOpt, settings_of, setup_logging
from citybrain.errors import CityBrainError, ConfigError


def web(config: ConfigOpt = None) -> None:
    """Serve the dashboard and the JSON API."""
    import uvicorn

    from citybrain.city_loading import load_city
    from citybrain.store import Store
    from citybrain.web.app import create_app
    from citybrain.web.bus import KafkaBus

    setup_logging()
    s = settings_of(config)
    bus = KafkaBus(s.kafka, s.web.kafka_timeout_s, s.web.kafka_retry_after_s)
    try:
        application = create_app(load_city(s), Store.open(s.store), s, bus)
    except ConfigError as e:
        typer.echo("\n".join(e.problems), err=True)
        raise typer.Exit(2) from e
    except CityBrainError as e:  # e.g. a database schema this code does not fit
        typer.echo(f"web: cannot start: {e}", err=True)
        raise typer.Exit(2) from e
    try:
        # Live dashboards hold connections open; cut them after 5 s so a stop never hangs
        # (browsers reconnect to the next server and catch up).
        uvicorn.run(
            application,
            host=s.web.host,
            port=s.web.port,
            log_level="warning",
            timeout_graceful_shutdown=5,
            proxy_headers=False,  # the app trusts web.forwarded_allow_ips only (web/app.py)
        )
    finally:
        bus.close()


def hash_password() -> None:
    """Print the argon2 hash of a password read from the terminal (for web.users)."""
    from citybrain.web.auth import hash_password as argon2_hash

    password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    typer.echo(argon2_hash(password))
