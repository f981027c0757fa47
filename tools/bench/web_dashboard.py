"""Cost of the live dashboard as open incidents pile up, against a 100-incident baseline
measured in the same run.

    .venv/bin/python tools/bench/web_dashboard.py [--sizes 100,1000,10000,60000]

For each size, a fresh SQLite store holds that many open incidents (60,000 is an hour of a
1,000-per-minute flood). Measured, median of --repeat runs: one live-feed message for a new
browser (bounded snapshot + every panel), one incremental message carrying the ~17 incidents a
1,000/minute flood writes per second (panels rebuilt: the first screen of a tick), the same
for further screens in that tick (panels shared from the cache), page 1 of /api/incidents, the
dashboard page itself (GET /, Chinese, map layers included) and the trend charts'
/api/trends (not cached). The first screen is the page, the first live message and the trends.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from citybrain.city_loading import load_all
from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.store import Store
from citybrain.store.models import IncidentRow
from citybrain.store.web_queries import Scope
from citybrain.web.app import create_app
from citybrain.web.live import message


def fill(store: Store, city: City, n: int, start: int = 0, written_ago_s: float = 0) -> None:
    now = datetime.now(UTC)
    cats = [c.id for c in city.categories]
    dists = [d.id for d in city.districts]
    with store.sessions.begin() as s:
        s.add_all(
            IncidentRow(
                id=f"inc-{i:07d}",
                category=cats[i % len(cats)],
                status="open",
                severity="medium",
                district=dists[i % len(dists)],
                lon=120.11 + (i % 97) / 1000,
                lat=30.24 + (i % 53) / 1000,
                opened_at=now - timedelta(seconds=i % 3600),
                updated_at=now - timedelta(seconds=i % 3600),
                camera_count=0,
                ticket_count=1,
                department="water_drainage",
                decided_by="rule",
                routing_reason="responsibility list",
                summary="bench [template]",
                written_at=now - timedelta(seconds=written_ago_s),
            )
            for i in range(start, start + n)
        )


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def measure(store: Store, city: City, settings: Settings, n: int, repeat: int) -> tuple:
    app = create_app(city, store, settings)
    ctx = app.state.ctx

    def fresh(cursor: datetime | None) -> object:
        ctx.panel_cache.entries.clear()  # the first screen of this tick pays for the panels
        return message(ctx.panel_context(Scope()), cursor)

    snapshot, cursor = message(ctx.panel_context(Scope()), None)
    snap_ms = median_ms(lambda: fresh(None), repeat)
    fill(store, city, 17, start=n)  # one second of a 1,000/minute flood
    since = cursor
    inc_ms = median_ms(lambda: fresh(since), repeat)
    warm_ms = median_ms(lambda: message(ctx.panel_context(Scope()), since), repeat)
    client = TestClient(app)
    login = {"username": "operator", "password": "operator-demo"}
    h = {"authorization": f"Bearer {client.post('/api/token', json=login).json()['token']}"}
    page_ms = median_ms(lambda: client.get("/api/incidents?page_size=50", headers=h), repeat)
    html = {**h, "accept-language": "zh-CN"}
    assert client.get("/", headers=html).status_code == 200
    dash_ms = median_ms(lambda: client.get("/", headers=html), repeat)

    def trends() -> object:
        ctx.panel_cache.entries.clear()
        r = client.get("/api/trends", headers=h)
        assert r.status_code == 200, r.text
        return r

    trends_ms = median_ms(trends, repeat)
    first = dash_ms + snap_ms + trends_ms
    return (
        n,
        snap_ms,
        len(json.dumps(snapshot)),
        inc_ms,
        warm_ms,
        page_ms,
        dash_ms,
        trends_ms,
        first,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100,1000,10000,60000")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    settings, city = load_all(Path("config/citybrain.yaml"))
    settings = settings.model_copy(
        update={
            "web": settings.web.model_copy(
                update={"session_secret": "bench", "demo_mode": True}  # the demo accounts
            )
        }
    )
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            store = Store.from_url(f"sqlite:///{tmp}/bench.db")
            fill(store, city, n, written_ago_s=3600)  # the backlog was written earlier
            rows.append(measure(store, city, settings, n, args.repeat))
    b = rows[0]
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}; median of {args.repeat}"
    )
    print()
    print(
        "| open incidents | new screen ms | bytes | next tick ms | other screens, same tick ms "
        "| /api/incidents page ms | GET / ms | /api/trends ms | first screen ms "
        "| new / base | tick / base | page / base |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n, snap, size, inc, warm, page, dash, trend, first in rows:
        print(
            f"| {n} | {snap:.1f} | {size} | {inc:.1f} | {warm:.1f} | {page:.1f} | {dash:.1f} | "
            f"{trend:.1f} | {first:.1f} | {snap / b[1]:.2f} | {inc / b[3]:.2f} | {page / b[5]:.2f} |"
        )


if __name__ == "__main__":
    main()
