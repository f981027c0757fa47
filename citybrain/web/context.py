"""What every route needs, built once per app: city, stores, auth, Kafka, metrics."""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from citybrain.config import Settings
from citybrain.config.web import WebUser
from citybrain.core.city import City
from citybrain.store import Store
from citybrain.store.outbox import Outbox
from citybrain.store.web_queries import IncidentView, Scope, WebStore
from citybrain.streams.topics import Topics
from citybrain.web import health
from citybrain.web.auth import Auth, Principal
from citybrain.web.bus import OPEN311_OUTBOX, Bus, emit_pending, send_outbox
from citybrain.web.guards import HashSlots, RateLimits, StreamSlots
from citybrain.web.i18n import N_, Msg
from citybrain.web.live import PanelCache, PanelContext
from citybrain.web.snapshot import FrameReader

log = logging.getLogger(__name__)
TIME_RANGES = {"1h": 1, "6h": 6, "24h": 24, "7d": 168}


def current_user(request: Request) -> Principal:
    """The signed-in user (raises AuthError: pages redirect to sign-in, APIs answer 401)."""
    ctx: WebContext = request.app.state.ctx
    return ctx.auth.principal(request)


CurrentUser = Annotated[Principal, Depends(current_user)]


@dataclass
class WebMetrics:
    registry: CollectorRegistry
    requests: Counter = field(init=False)
    latency: Histogram = field(init=False)
    sse_clients: Gauge = field(init=False)
    actions: Counter = field(init=False)
    open311: Counter = field(init=False)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "citybrain_web_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "citybrain_web_request_seconds", "HTTP request latency", ["route"], registry=r
        )
        self.sse_clients = Gauge(
            "citybrain_web_live_clients", "Open live dashboard connections", registry=r
        )
        self.actions = Counter(
            "citybrain_web_actions", "Dispatcher actions taken", ["action"], registry=r
        )
        self.open311 = Counter(
            "citybrain_web_open311_requests", "Open311 requests submitted", registry=r
        )


@dataclass
class WebContext:
    city: City
    store: Store
    settings: Settings
    bus: Bus | None
    registry: CollectorRegistry
    ws: WebStore = field(init=False)
    auth: Auth = field(init=False)
    topics: Topics = field(init=False)
    frames: FrameReader = field(init=False)
    rates: health.RateTracker = field(init=False)
    metrics: WebMetrics = field(init=False)
    panel_cache: PanelCache = field(init=False)
    limits: RateLimits = field(init=False)
    hashes: HashSlots = field(init=False)
    streams: StreamSlots = field(init=False)
    _emitting: threading.Lock = field(init=False, default_factory=threading.Lock)
    _open311: Outbox = field(init=False)

    def __post_init__(self) -> None:
        self.limits = RateLimits()
        self.hashes = HashSlots(self.settings.web.max_concurrent_hashes)
        self.streams = StreamSlots(self.settings.web.live_streams_per_user)
        self.ws = WebStore(self.store)
        self.auth = Auth(self.settings.web, is_revoked=self.ws.session_revoked)
        self.topics = Topics(self.settings.kafka.topic_prefix)
        self.frames = FrameReader(self.settings.kafka, self.topics.frames)
        self.rates = health.RateTracker()
        self.metrics = WebMetrics(self.registry)
        self.panel_cache = PanelCache()
        self._open311 = self.store.outbox(OPEN311_OUTBOX, self.settings.workers.outbox_lease_s)

    @property
    def web(self) -> Any:
        return self.settings.web

    def scope(
        self,
        p: Principal,
        category: str | None = None,
        district: str | None = None,
        range_: str | None = None,
        department: str | None = None,
    ) -> Scope:
        """The user's filters, bounded by what their role may see; unknown values are errors."""
        if category and category not in self.city.category_by_id and category != "unclassified":
            raise HTTPException(422, Msg("unknown category {category!r}", category=category))
        if district and district not in self.city.district_by_id and district != "unlocated":
            raise HTTPException(422, Msg("unknown district {district!r}", district=district))
        if range_ and range_ not in TIME_RANGES:
            raise HTTPException(
                422, Msg("range must be one of {ranges}", ranges=", ".join(TIME_RANGES))
            )
        if department and department not in self.city.department_by_id:
            raise HTTPException(
                422, Msg("unknown department {department!r}", department=department)
            )
        # Whole minutes, so that screens with the same filter share cached panels.
        since = (
            datetime.now(UTC).replace(second=0, microsecond=0)
            - timedelta(hours=TIME_RANGES[range_])
            if range_
            else None
        )
        if not p.sees_all:
            department = p.department
        return Scope(department=department, category=category, district=district, since=since)

    def panel_context(self, scope: Scope) -> PanelContext:
        return PanelContext(
            self.ws,
            self.store,
            self.city,
            self.web,
            scope,
            datetime.now(UTC),
            self.rates,
            self.panel_cache,
        )

    def sign_in(self, username: str, password: str, host: str) -> WebUser | None:
        """Check a password within the budgets: attempts per client address, failures per
        account (429 + Retry-After past either), and at most `max_concurrent_hashes` argon2
        checks at once (503 when none frees up in time)."""
        web = self.web
        wait = self.limits.hit(web.login_rate_per_client, "login.client", host)
        if wait is None:
            wait = self.limits.blocked(web.login_rate_per_account, "login.account", username)
        if wait is not None:
            raise HTTPException(
                429,
                N_("too many sign-in attempts; try again later"),
                headers={"Retry-After": str(math.ceil(wait))},
            )
        with self.hashes.slot() as got:
            if not got:
                raise HTTPException(
                    503, N_("busy checking passwords"), headers={"Retry-After": "5"}
                )
            user = self.auth.verify(username, password)
        if user is None:
            self.limits.spend(web.login_rate_per_account, "login.account", username)
        return user

    def sign_out(self, p: Principal) -> None:
        """Revoke the session for every server until it would have expired anyway, so copies
        of its cookie or token stop working too."""
        expires = datetime.now(UTC) + timedelta(seconds=self.web.session_max_age_s)
        self.ws.revoke_session(p.csrf, expires)

    def visible(self, p: Principal, incident_id: str) -> IncidentView:
        """The incident if this user may see it; 404 otherwise, so ids of other departments'
        incidents cannot be probed."""
        v = self.ws.view(incident_id)
        if v is None or not p.may_see(v.department):
            raise HTTPException(404, Msg("no incident {incident_id}", incident_id=incident_id))
        return v

    def emit(self) -> None:
        """Send stored actions, and Open311 tickets left unsent, to Kafka; a failure leaves
        them for the next try (a request's, or the background drain's)."""
        if self.bus is None:
            return
        try:
            with self._emitting:  # the background drain and a request: one at a time
                emit_pending(self.ws, self.bus, self.topics)
        except Exception as e:  # Kafka down: the actions are stored and go out later
            log.warning("feedback not sent yet: %s", e)
        try:
            # Open311 tickets whose request could not send them (their lease ran out)
            send_outbox(self._open311, self.bus)
        except Exception as e:
            log.warning("Open311 tickets not sent yet: %s", e)

    def department_name(self, dept: str) -> str:
        d = self.city.department_by_id.get(dept)
        return d.name if d else dept

    def category_name(self, cat: str) -> str:
        c = self.city.category_by_id.get(cat)
        return c.name if c else cat
