"""FastAPI application: dashboard, inbox and incident pages, REST + Open311 APIs, health, metrics.

`create_app` only wires parts together; each concern lives in its own module (auth, live,
pages, api, open311, snapshot, bus). The Kafka bus is optional so the app runs (read-only
for Kafka) where no broker is reachable; actions are stored and sent once one is.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from citybrain.config import Settings
from citybrain.core.camera_health import STATE_OF_CODE
from citybrain.core.city import City
from citybrain.errors import ConfigError
from citybrain.store import Store
from citybrain.streams.counters import CameraStat, Stat
from citybrain.web import access, api, doors, health, i18n, open311, pages, trends
from citybrain.web.auth import AuthError
from citybrain.web.bus import Bus
from citybrain.web.context import WebContext
from citybrain.web.guards import BodyLimit, security_headers
from citybrain.web.i18n import N_
from citybrain.web.outbox_drain import OutboxDrain

STATIC = Path(__file__).parent / "static"
LIVE_WORKER = timedelta(seconds=10)  # a worker writes its counters every second
# Request metrics are labelled by these methods; any other token a client sends is "other",
# so a client cannot grow the label set (and Prometheus' memory) one made-up method at a time.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
ERROR_TITLES = {
    400: N_("Bad request"),
    401: N_("Sign-in needed"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    409: N_("Conflict"),
    413: N_("Too large"),
    422: N_("Cannot be done as sent"),
    429: N_("Too many requests"),
    503: N_("Unavailable for now"),
}
_MACHINE_PREFIXES = ("/api/", "/open311/", "/metrics", "/healthz", "/readyz", "/openapi.json")


class _StoreCollector(Collector):
    """Prometheus gauges read from the store at scrape time (works across worker processes)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for column in ("category", "district", "department"):
            g = GaugeMetricFamily(
                f"citybrain_open_incidents_by_{column}",
                f"Open incidents by {column}",
                labels=[column],
            )
            for k, n in self.store.counts_by(column).items():
                g.add_metric([k], n)
            yield g
        g = GaugeMetricFamily(
            "citybrain_pipeline_counter", "Pipeline worker counters", labels=["worker", "counter"]
        )
        lag = GaugeMetricFamily(
            "citybrain_pipeline_lag", "Records behind the end of the input topics", labels=["job"]
        )
        by_job: dict[str, float] = {}
        now = datetime.now(UTC)
        stats = self.store.stats()
        for worker, counters in stats.items():
            for k, v in counters.items():
                if isinstance(v, int | float):
                    g.add_metric([worker, k], v)
            job = worker.split("@", 1)[0]
            updated = counters.get("updated_at")
            live = isinstance(updated, datetime) and now - updated <= LIVE_WORKER
            # a worker that stopped writing (died, restarted) is behind on nothing
            lag_now = float(counters.get(Stat.LAG, 0) or 0) if live else 0.0
            by_job[job] = by_job.get(job, 0) + lag_now
        for job, total in sorted(by_job.items()):
            lag.add_metric([job], total)
        yield g
        yield lag
        cams = GaugeMetricFamily(
            "citybrain_camera_health",
            "Camera health the camera gateway reports: 1 for the camera's current state "
            "(online, offline, frozen, covered, dark, blurred, starting)",
            labels=["camera", "state"],
        )
        reported = health.gateway_health(stats, LIVE_WORKER.total_seconds(), now)
        for cam, of_cam in sorted(reported.items()):
            state = STATE_OF_CODE.get(of_cam.get(CameraStat.HEALTH, -1))
            if state is not None:
                cams.add_metric([cam, state.value], 1)
        yield cams


def _check_users(city: City, settings: Settings) -> None:
    problems = [
        f"web.users: {u.username}: unknown department {u.department!r}"
        for u in settings.web.users
        if u.department is not None and u.department not in city.department_by_id
    ]
    names = [u.username for u in settings.web.users]
    problems += [
        f"web.users: duplicate username {n!r}" for n in sorted(set(names)) if names.count(n) > 1
    ]
    problems += doors.refusals(settings.web)
    if problems:
        raise ConfigError(problems)


def _machine(request: Request) -> bool:
    path = request.url.path
    return path.startswith(_MACHINE_PREFIXES) or "text/html" not in request.headers.get(
        "accept", ""
    )


def create_app(
    city: City, store: Store, settings: Settings | None = None, bus: Bus | None = None
) -> FastAPI:
    settings = settings or Settings()
    _check_users(city, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        """Actions stored while Kafka was down go out in the background, not only with the
        next action someone takes (web/outbox_drain.py)."""
        drain = OutboxDrain(ctx.emit, settings.web.outbox_drain_s).start() if bus else None
        try:
            yield
        finally:
            if drain is not None:
                drain.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="citybrain",
        version="0.1.0",
        description="Incidents, dispatches, dispatcher feedback, metrics and Open311 GeoReport v2.",
        docs_url=None,  # the Swagger page loads assets from a CDN; /openapi.json is the spec
        redoc_url=None,
        dependencies=[Depends(access.enforce)],  # who may read what: web/access.py
    )
    registry = CollectorRegistry()
    registry.register(_StoreCollector(store))
    ctx = WebContext(city, store, settings, bus, registry)
    app.state.ctx = ctx
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    headers = security_headers(settings.web.map.tile_origin)

    @app.middleware("http")
    async def count(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        for k, v in headers.items():
            response.headers.setdefault(k, v)
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        method = request.method if request.method in _METHODS else "other"
        ctx.metrics.requests.labels(method, name, str(response.status_code)).inc()
        ctx.metrics.latency.labels(name).observe(time.perf_counter() - started)
        return response

    def error_page(
        request: Request, status: int, detail: object, headers: Mapping[str, str] | None = None
    ) -> Response:
        """The error page in the request's language (web/i18n.localize translates the detail)."""
        lc = pages.language_context(request, ctx)
        return pages.TEMPLATES.TemplateResponse(
            request,
            "error.html",
            {
                **lc,
                "status": status,
                "title": i18n.localize(ERROR_TITLES.get(status, ""), lc["translations"]),
                "detail": lc["say"](detail),
                "user": None,
                "city": city,
            },
            status_code=status,
            headers=headers,
        )

    @app.exception_handler(AuthError)
    async def not_signed_in(request: Request, exc: AuthError) -> Response:
        if _machine(request):
            return JSONResponse(
                {"detail": exc.detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        expired = "&expired=1" if "expired" in exc.detail else ""
        return RedirectResponse(f"/login?next={quote(request.url.path)}{expired}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _machine(request):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        return error_page(request, exc.status_code, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            f"{'.'.join(str(x) for x in e['loc'][1:]) or 'request'}: {e['msg']}"
            for e in exc.errors()
        ]
        if _machine(request):
            return JSONResponse({"detail": errors}, status_code=422)
        return error_page(request, 422, "; ".join(errors))

    app.include_router(api.make_router(ctx))
    app.include_router(trends.make_router(ctx))
    app.include_router(open311.make_router(ctx))
    app.include_router(pages.make_router(ctx))

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers. Never the database: an outage there must not make
        the orchestrator restart every web server in a loop."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz() -> JSONResponse:
        """Readiness: one round trip to the database; 503 takes the server out of the load
        balancer while it is unreachable, without restarting it."""
        try:
            store.ping()
        except Exception as e:
            return JSONResponse({"status": "unavailable", "detail": type(e).__name__}, 503)
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", tags=["health"])
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    # The client address every per-client limit counts by: X-Forwarded-For names it only
    # when the peer is one of web.forwarded_allow_ips (the proxy or Ingress in front), so a
    # client cannot pick its own address and the city is not one address behind a proxy.
    proxies = list(settings.web.forwarded_allow_ips)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
    # Outermost, so no other layer reads a body before its size is known.
    app.add_middleware(BodyLimit, max_bytes=settings.web.max_body_bytes)
    return app
