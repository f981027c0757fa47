"""Open311 GeoReport v2 (JSON): 311 apps list services, submit requests and read their status.

A submitted request becomes a `Ticket` (channel "open311") on `<prefix>.tickets`, exactly like a
hotline call, so it is redacted, classified, located and fused by the same pipelines. The
reporter's contact fields (email, names, phone, device and account ids) are accepted as the
spec allows and dropped: citybrain keeps no personal data it does not need. Status comes from
the incident the ticket joined (evidence table), once the pipelines have placed it.
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from citybrain.core.messages import GeoPoint, Ticket
from citybrain.store.web_models import Open311RequestRow
from citybrain.store.web_queries import IncidentView
from citybrain.web.context import WebContext

MAX_DESCRIPTION = 4000


def _error(status: int, description: str) -> JSONResponse:
    return JSONResponse([{"code": status, "description": description}], status_code=status)


def _float(raw: Any, name: str, lo: float, hi: float) -> float:
    try:
        v = float(raw)
    except (TypeError, ValueError) as e:
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

    def request_json(req: Open311RequestRow, v: IncidentView | None) -> dict[str, Any]:
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
            "lat": req.lat,
            "long": req.lon,
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
        description."""
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = await request.json()
            except json.JSONDecodeError:
                return _error(400, "body is not valid JSON")
            if not isinstance(body, dict):
                return _error(400, "body must be a JSON object")
            data = {k: v for k, v in body.items() if v is not None}
        else:
            data = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        # Producing to Kafka and writing the store block: off the event loop, so a slow
        # broker cannot freeze the live dashboards served by the same process.
        return await run_in_threadpool(accept, data)

    def accept(data: dict[str, Any]) -> JSONResponse:
        if ctx.web.open311_api_keys and data.get("api_key") not in ctx.web.open311_api_keys:
            return _error(403, "a valid api_key is required")
        code = str(data.get("service_code", "")).strip()
        if code not in services:
            return _error(400, f"service_code {code!r} is not a known service")
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
            return _error(503, "intake is not connected to the stream; try again later")
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
        try:
            ctx.bus.send(
                ctx.topics.tickets,
                key=rid.encode(),
                value=ticket.model_dump_json().encode(),
                headers=[],
            )
            ctx.bus.flush()
        except Exception:
            return _error(503, "the ticket stream is unavailable; try again later")
        ctx.ws.add_open311(
            Open311RequestRow(
                id=rid,
                service_code=code,
                requested_at=now,
                lat=point.lat if point else None,
                lon=point.lon if point else None,
            )
        )
        ctx.metrics.open311.inc()
        return JSONResponse(
            [
                {
                    "service_request_id": rid,
                    "service_notice": "Thank you; the request is being routed to the responsible department.",
                    "account_id": None,
                }
            ],
            status_code=201,
        )

    @r.get("/requests/{request_id}.json")
    def one(request_id: str) -> JSONResponse:
        found = ctx.ws.open311(ids=[request_id])
        if not found:
            return _error(404, f"no service request {request_id}")
        return JSONResponse([request_json(*found[0])])

    @r.get("/requests.json")
    def many(
        service_request_id: str | None = None,
        service_code: str | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
        status: str | None = None,
    ) -> JSONResponse:
        if status not in (None, "open", "closed"):
            return _error(400, "status must be open or closed")
        try:
            start, end = _date(start_date), _date(end_date)
        except ValueError:
            return _error(400, "start_date and end_date must be ISO 8601 (w3c) dates")
        ids = [i.strip() for i in service_request_id.split(",")] if service_request_id else None
        rows = [
            request_json(req, v)
            for req, v in ctx.ws.open311(ids, service_code, start, end, limit=1000)
        ]
        return JSONResponse([x for x in rows if status is None or x["status"] == status])

    return r
