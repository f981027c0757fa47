"""Open311 GeoReport v2 (JSON): 311 apps list services, submit requests and read their status.

A submitted request becomes a `Ticket` (channel "open311") on `<prefix>.tickets`, exactly like a
hotline call, so it is redacted, classified, located and fused by the same pipelines. The
reporter's contact fields (email, names, phone, device and account ids) are accepted as the
spec allows and dropped: citybrain keeps no personal data it does not need. The request is
stored before its ticket is sent, the ticket in the web's outbox in the same transaction: a
database outage answers 503 with nothing sent; a Kafka that does not acknowledge the ticket
answers 202 (stored, sent by the background drain once Kafka is back), never a 503 that
would make the client's retry a second ticket. Status comes from
the incident the ticket joined (evidence table), once the pipelines have placed it.

Intake is guarded: a body over `web.max_body_bytes` is refused before it is read (413,
`guards.BodyLimit`); a key (`api_key`, or the `X-API-Key` header) is required unless the
server runs in `web.demo_mode`; submissions are rate-limited per key, and per
client address for keyless or wrongly keyed callers (429 + Retry-After). Public reads show
coordinates rounded to `web.open311_public_decimals` (2 ≈ 1 km, as GeoReport v2 allows a
city to withhold or generalise them); a caller with a key sees them as submitted.
"""

from __future__ import annotations

import hmac
import math
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from citybrain.core.messages import GeoPoint, Ticket
from citybrain.store import TRANSIENT_ERRORS
from citybrain.store.web_models import Open311RequestRow
from citybrain.store.web_queries import IncidentView
from citybrain.streams.records import Output
from citybrain.web.bus import OPEN311_OUTBOX, send_outbox
from citybrain.web.context import WebContext

MAX_DESCRIPTION = 4000
_TEXT_FIELDS = ("service_code", "description", "address_string", "api_key")


def _error(status: int, description: str, retry_after_s: float | None = None) -> JSONResponse:
    headers = {"Retry-After": str(math.ceil(retry_after_s))} if retry_after_s else None
    return JSONResponse(
        [{"code": status, "description": description}], status_code=status, headers=headers
    )


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _float(raw: Any, name: str, lo: float, hi: float) -> float:
    # JSON true is no latitude, though Python would call it 1.0.
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"{name} must be a number")
    try:
        v = float(raw)
    except (TypeError, ValueError, OverflowError) as e:  # a 400-digit JSON integer overflows
        raise ValueError(f"{name} must be a number") from e
    if not math.isfinite(v) or not lo <= v <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}")
    return v


def _date(raw: str | None) -> datetime | None:
    if not raw:
        return None
    dt = datetime.fromisoformat(raw)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def make_router(ctx: WebContext) -> APIRouter:
    r = APIRouter(prefix="/open311/v2", tags=["open311"])
    services = {c.id: c for c in ctx.city.categories}

    def keyed(key: str | None) -> bool:
        if not key:
            return False
        return any(hmac.compare_digest(key.encode(), k.encode()) for k in ctx.web.open311_api_keys)

    def key_of(request: Request, data: dict[str, Any] | None = None) -> str | None:
        key = (data or {}).get("api_key") or request.query_params.get("api_key")
        return str(key or request.headers.get("x-api-key") or "") or None

    def coord(x: float | None, exact: bool) -> float | None:
        return x if x is None or exact else round(x, ctx.web.open311_public_decimals)

    def request_json(req: Open311RequestRow, v: IncidentView | None, exact: bool) -> dict[str, Any]:
        cat = services.get(req.service_code)
        if v is None:
            status, notes, agency, updated = "open", "received; being processed", None, None
        else:
            status = "closed" if v.closed else "open"
            agency = ctx.department_name(v.department)
            state = (
                "resolved" if v.closed else {"new": "routed to", "accepted": "accepted by"}[v.state]
            )
            notes, updated = f"{state} {agency}", v.written_at.isoformat()
        return {
            "service_request_id": req.id,
            "status": status,
            "status_notes": notes,
            "service_name": cat.name if cat else req.service_code,
            "service_code": req.service_code,
            "agency_responsible": agency,
            "requested_datetime": req.requested_at.isoformat(),
            "updated_datetime": updated,
            "lat": coord(req.lat, exact),
            "long": coord(req.lon, exact),
        }

    @r.get("/services.json")
    def service_list() -> list[dict[str, Any]]:
        """Every category of the city's taxonomy is a service."""
        return [
            {
                "service_code": c.id,
                "service_name": c.name,
                "description": f"{c.name} ({c.name_zh}); target time {c.sla_minutes} minutes",
                "metadata": False,
                "type": "realtime",
                "keywords": ", ".join(c.keywords_en),
                "group": c.severity,
            }
            for c in ctx.city.categories
        ]

    @r.post("/requests.json")
    async def submit(request: Request) -> JSONResponse:
        """Form-encoded (or JSON) service request: service_code, lat+long or address_string,
        description; api_key unless the server is in demo mode."""
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = await request.json()
            except (ValueError, RecursionError):  # not JSON, or nested past the parser
                return _error(400, "body is not valid JSON")
            if not isinstance(body, dict):
                return _error(400, "body must be a JSON object")
            data = {k: v for k, v in body.items() if v is not None}
        else:
            data = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        host = _client(request)
        # Producing to Kafka and writing the store block: off the event loop, so a slow
        # broker cannot freeze the live dashboards served by the same process.
        return await run_in_threadpool(accept, data, key_of(request, data), host)

    def admit(key: str | None, host: str) -> JSONResponse | None:
        """The key and rate checks: None when the request may go on."""
        web = ctx.web
        if not web.open311_api_keys and not web.demo_mode:
            return _error(403, "intake needs web.open311_api_keys (or web.demo_mode)")
        if keyed(key):
            wait = ctx.limits.hit(web.open311_rate_per_key, "open311.key", str(key))
        else:  # keyless (demo mode) and wrongly keyed callers are counted per address
            wait = ctx.limits.hit(web.open311_rate_per_client, "open311.client", host)
        if wait is not None:
            return _error(429, "too many requests; slow down", wait)
        if web.open311_api_keys and not keyed(key):
            return _error(403, "a valid api_key is required")
        return None

    def accept(data: dict[str, Any], key: str | None, host: str) -> JSONResponse:
        refused = admit(key, host)
        if refused is not None:
            return refused
        wrong = [f for f in _TEXT_FIELDS if f in data and not isinstance(data[f], str)]
        if wrong:
            return _error(400, f"{wrong[0]} must be a string")
        code = str(data.get("service_code", "")).strip()
        if code not in services:
            return _error(400, f"service_code {code[:64]!r} is not a known service")
        description = str(data.get("description", "")).strip()
        if not description:
            return _error(400, "description is required")
        if len(description) > MAX_DESCRIPTION:
            return _error(400, f"description is longer than {MAX_DESCRIPTION} characters")
        address = str(data.get("address_string", "")).strip()[:500] or None
        try:
            has_point = data.get("lat") not in (None, "") or data.get("long") not in (None, "")
            point = (
                GeoPoint(
                    lat=_float(data.get("lat"), "lat", -90, 90),
                    lon=_float(data.get("long"), "long", -180, 180),
                )
                if has_point
                else None
            )
        except ValueError as e:
            return _error(400, str(e))
        if point is None and address is None:
            return _error(400, "a location is required: lat and long, or address_string")
        if ctx.bus is None:
            return _error(
                503,
                "intake is not connected to the stream; try again later",
                ctx.web.kafka_retry_after_s,
            )
        now = datetime.now(UTC)
        rid = f"311-{uuid.uuid4().hex[:16]}"
        # The chosen service is part of the report, so the classifier sees it too.
        ticket = Ticket(
            ticket_id=rid,
            channel="open311",
            received_at=now,
            text=f"{services[code].name}: {description}",
            location=point,
            address=address,
        )
        message = Output(
            topic=ctx.topics.tickets,
            key=rid.encode(),
            value=ticket.model_dump_json().encode(),
            headers=[("idempotency-key", rid.encode())],
        )
        row = Open311RequestRow(
            id=rid,
            service_code=code,
            requested_at=now,
            lat=point.lat if point else None,
            lon=point.lon if point else None,
        )
        # Stored first, with its ticket in the outbox of the same transaction: a database
        # outage answers 503 before anything is sent, so the client's retry makes one ticket.
        outbox = ctx.store.outbox(OPEN311_OUTBOX, ctx.settings.workers.outbox_lease_s)
        try:
            ctx.ws.add_open311(row, outbox, message)
        except TRANSIENT_ERRORS:
            return _error(
                503, "the request store is unavailable; try again later",
                ctx.web.kafka_retry_after_s,
            )  # fmt: skip
        try:
            send_outbox(outbox, ctx.bus)  # raises unless the broker acknowledged the ticket
            sent = True
        except Exception:  # stored: the web's background drain sends it after the lease
            sent = False
        ctx.metrics.open311.inc()
        notice = (
            "Thank you; the request is being routed to the responsible department."
            if sent
            else "Thank you; the request is stored and will be routed shortly. Do not send it again."
        )
        return JSONResponse(
            [{"service_request_id": rid, "service_notice": notice, "account_id": None}],
            status_code=201 if sent else 202,
        )

    def read_refused(request: Request) -> JSONResponse | None:
        """Reads are throttled per key (keyed callers) or per client address."""
        key = key_of(request)
        who = ("open311.read.key", str(key)) if keyed(key) else ("open311.read", _client(request))
        wait = ctx.limits.hit(ctx.web.open311_read_rate_per_client, *who)
        return None if wait is None else _error(429, "too many requests; slow down", wait)

    @r.get("/requests/{request_id}.json")
    def one(request: Request, request_id: str) -> JSONResponse:
        if (refused := read_refused(request)) is not None:
            return refused
        found = ctx.ws.open311(ids=[request_id])
        if not found:
            return _error(404, f"no service request {request_id[:64]}")
        return JSONResponse([request_json(*found[0], exact=keyed(key_of(request)))])

    @r.get("/requests.json")
    def many(
        request: Request,
        service_request_id: str | None = None,
        service_code: str | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
        status: str | None = None,
    ) -> JSONResponse:
        if (refused := read_refused(request)) is not None:
            return refused
        if status not in (None, "open", "closed"):
            return _error(400, "status must be open or closed")
        try:
            start, end = _date(start_date), _date(end_date)
        except ValueError:
            return _error(400, "start_date and end_date must be ISO 8601 (w3c) dates")
        ids = [i.strip() for i in service_request_id.split(",")] if service_request_id else None
        exact = keyed(key_of(request))
        rows = [
            request_json(req, v, exact)
            for req, v in ctx.ws.open311(ids, service_code, start, end, limit=1000)
        ]
        return JSONResponse([x for x in rows if status is None or x["status"] == status])

    return r
