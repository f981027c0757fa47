"""The REST API (documented at /openapi.json): incidents, dispatches, feedback, metrics, the
live feed. Same users and rules as the pages; send the session cookie with an X-CSRF-Token
header, or a bearer token from POST /api/token."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from citybrain.core.advised import similar_routed_to
from citybrain.store.web_views import SimilarFilter
from citybrain.web.actions import ActionIn, take_action
from citybrain.web.audit import audit_trail, summary_label
from citybrain.web.auth import CSRF_HEADER, Auth, AuthError, Principal
from citybrain.web.bus import feedback_of
from citybrain.web.context import CurrentUser, WebContext
from citybrain.web.hot_issues import hot_issue_json
from citybrain.web.hotspots import hotspot_json
from citybrain.web.live import event_stream, message, parse_cursor, visible_panels

Page = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(ge=1, le=500)]


class Credentials(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class Token(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_in: int


def evidence_json(e: Any, with_text: bool) -> dict[str, Any]:
    return {
        "observation_id": e.observation_id,
        "source": e.source,
        "source_id": e.source_id,
        "category": e.category,
        "observed_at": e.observed_at.isoformat(),
        "precision": e.precision,
        "confidence": e.confidence,
        "text": e.text if with_text else None,
        "frame_ref": e.frame_ref,
        "detections": e.detections or [],
    }


def action_json(a: Any) -> dict[str, Any]:
    return {
        "id": a.id,
        "incident_id": a.incident_id,
        "action": a.action,
        "actor": a.actor,
        "at": a.at.isoformat(),
        "department_from": a.department_from,
        "department_to": a.department_to,
        "reason": a.reason,
        "emitted": a.emitted,
    }


def similar_for(ctx: WebContext, p: Principal, district: str | None) -> SimilarFilter | None:
    """Which of the router's similar past tickets `p` may read: an admin all of them; a
    dispatcher only those the city routed to their own department (the others are other
    departments' citizens' words); an operator none (roles that do not handle ticket texts)."""
    if not p.sees_ticket_text:
        return None
    department = None if p.sees_all else p.department or ""
    return lambda advice: similar_routed_to(ctx.city, advice, department, district)


def visible_similar(
    ctx: WebContext, p: Principal, advice: dict[str, Any] | None, district: str | None
) -> list[Any]:
    """`similar_for` applied to one stored advice (the inbox rows)."""
    only = similar_for(ctx, p, district)
    return only(advice) if only is not None and advice else []


def incident_detail(ctx: WebContext, p: Principal, incident_id: str) -> dict[str, Any]:
    v = ctx.visible(p, incident_id)
    return {
        **v.as_json(similar_for(ctx, p, v.row.district)),
        "summary_label": summary_label(v.row, ctx.store.summary(v.id)),
        "evidence": [evidence_json(e, p.sees_ticket_text) for e in ctx.ws.evidence_of(v.id)],
        "actions": [action_json(a) for a in ctx.ws.actions(v.id)],
        "audit": [e.as_json() for e in audit_trail(ctx.ws, v.id)],
    }


def make_router(ctx: WebContext) -> APIRouter:
    r = APIRouter(prefix="/api", tags=["api"])

    @r.post("/token", response_model=Token)
    def token(body: Credentials, request: Request) -> Token:
        """A bearer token for scripts and apps (same lifetime as a session)."""
        host = request.client.host if request.client else "unknown"
        found = ctx.sign_in(body.username, body.password, host)
        if found is None:
            raise AuthError("wrong username or password")
        return Token(token=ctx.auth.issue(found), expires_in=ctx.web.session_max_age_s)

    @r.post("/token/revoke", status_code=204)
    def revoke(p: CurrentUser, request: Request) -> Response:
        """Sign this token (or cookie session) out on every server, before it expires."""
        if not Auth.csrf_ok(p, request.headers.get(CSRF_HEADER)):
            raise HTTPException(403, "missing or wrong X-CSRF-Token header")
        ctx.sign_out(p)
        return Response(status_code=204)

    @r.get("/incidents")
    def incidents(
        p: CurrentUser,
        response: Response,
        status: Annotated[str, Query(pattern="^(open|all)$")] = "open",
        category: str | None = None,
        district: str | None = None,
        range: str | None = None,
        department: str | None = None,
        page: Page = 1,
        page_size: PageSize = 100,
    ) -> list[dict[str, Any]]:
        """Incidents, newest change first; the total is in the X-Total-Count header."""
        scope = ctx.scope(p, category, district, range, department)
        rows, total = ctx.ws.page(scope, page, page_size, open_only=status == "open")
        response.headers["X-Total-Count"] = str(total)
        return [v.as_json(similar_for(ctx, p, v.row.district)) for v in rows]

    @r.get("/incidents/{incident_id}")
    def incident(p: CurrentUser, incident_id: str) -> dict[str, Any]:
        """One incident with its evidence, actions, audit trail and summary label."""
        return incident_detail(ctx, p, incident_id)

    @r.post("/incidents/{incident_id}/actions", status_code=201)
    def act(p: CurrentUser, request: Request, incident_id: str, body: ActionIn) -> Response:
        """accept | reassign (department, reason) | resolve (reason = note) | reject (reason).

        201 once stored and on Kafka; 202 (`sent: false`, Retry-After) when stored but Kafka
        did not take it: it stays in the outbox and goes out with the next action, so the
        client must not repeat it."""
        if not Auth.csrf_ok(p, request.headers.get(CSRF_HEADER)):
            raise HTTPException(403, "missing or wrong X-CSRF-Token header")
        result = take_action(ctx, p, incident_id, body)
        sent = not ctx.ws.unemitted(limit=1) if ctx.bus is not None else None
        out = {
            "action": action_json(result.action),
            "feedback": feedback_of(result.action).model_dump(mode="json"),
            "dispatch_id": result.dispatch.id if result.dispatch else None,
            "sent": sent,
        }
        if sent is False:
            retry = str(math.ceil(ctx.web.kafka_retry_after_s))
            return JSONResponse(out, status_code=202, headers={"Retry-After": retry})
        return JSONResponse(out, status_code=201)

    @r.get("/evidence/{observation_id}/similar")
    def similar(
        p: CurrentUser, observation_id: str, k: Annotated[int, Query(ge=1, le=50)] = 10
    ) -> list[dict[str, Any]]:
        """Camera evidence whose frames look most like this one's (CLIP image embeddings,
        cosine), best first, within the incidents this user may see: where else, and when
        before, the same thing was seen."""
        row = ctx.store.evidence_row(observation_id)
        missing = HTTPException(404, f"no evidence {observation_id[:64]}")
        if row is None:
            raise missing
        try:
            ctx.visible(p, row.incident_id)
        except HTTPException as hidden:  # the same 404, naming no other department's incident
            raise missing from hidden
        if not row.embedding:
            raise HTTPException(422, "this evidence has no image embedding (tickets have none)")
        wait = ctx.limits.hit(ctx.web.similar_rate_per_user, "similar.user", p.username)
        if wait is not None:
            raise HTTPException(
                429,
                "too many look-alike searches; slow down",
                {"Retry-After": str(math.ceil(wait))},
            )
        found = ctx.store.similar_evidence(observation_id, k=4 * k, pool=ctx.web.similar_pool)
        # who holds each incident, in one query rather than one per row
        holders = ctx.ws.departments_of([e.incident_id for e, _ in found])
        out = []
        for e, score in found:
            holder = holders.get(e.incident_id)
            if holder is None or not p.may_see(holder):
                continue
            out.append({**evidence_json(e, p.sees_ticket_text), "incident_id": e.incident_id,
                        "similarity": score})  # fmt: skip
            if len(out) == k:
                break
        return out

    @r.get("/hotspots")
    def hotspots(
        p: CurrentUser, open_only: bool = True, limit: PageSize = 100
    ) -> list[dict[str, Any]]:
        """Hot-spot alerts: tickets about one matter in one area growing unusually fast."""
        return [hotspot_json(h) for h in ctx.store.hotspots(open_only=open_only, limit=limit)]

    @r.get("/hot-issues")
    def hot_issues(
        p: CurrentUser, open_only: bool = True, limit: PageSize = 100
    ) -> list[dict[str, Any]]:
        """Hot issues, hottest first: tickets whose text describes one specific problem. Member
        tickets (ids and redacted texts) only for roles that may read ticket text."""
        rows = ctx.store.hot_issues(open_only=open_only, limit=limit)
        return [hot_issue_json(h, p.sees_ticket_text) for h in rows]

    @r.get("/hot-issues/{issue_id}")
    def hot_issue(p: CurrentUser, issue_id: str) -> dict[str, Any]:
        """One hot issue (open or closed), with its member tickets where the role allows."""
        row = ctx.store.hot_issue(issue_id)
        if row is None:
            raise HTTPException(404, "no such hot issue")
        return hot_issue_json(row, p.sees_ticket_text)

    @r.get("/dispatches")
    def dispatches(
        p: CurrentUser, department: str | None = None, page: Page = 1, page_size: PageSize = 100
    ) -> list[dict[str, Any]]:
        """Dispatches, newest first; dispatchers see their own department's only."""
        if not p.sees_all:
            department = p.department
        rows = ctx.ws.dispatch_page(department, page, page_size)
        return [
            {
                "id": d.id,
                "incident_id": d.incident_id,
                "department": d.department,
                "category": d.category,
                "district": d.district,
                "severity": d.severity,
                "created_at": d.created_at.isoformat(),
                "routing": {
                    "department": d.department,
                    "decided_by": d.decided_by,
                    "reason": d.reason,
                },
                "summary": d.summary,
            }
            for d in rows
        ]

    @r.get("/feedback")
    def feedback(
        p: CurrentUser, incident_id: str | None = None, limit: PageSize = 500
    ) -> list[dict[str, Any]]:
        """Dispatcher decisions as the Feedback messages sent to `<prefix>.feedback`."""
        if incident_id is not None:
            ctx.visible(p, incident_id)
        # Filtered in SQL, newest first: filtering the first `limit` rows in Python gave a
        # dispatcher the oldest 500 of everyone's, minus other departments'.
        rows = ctx.ws.actions(
            incident_id, limit=limit, department=None if p.sees_all else p.department
        )
        return [feedback_of(a).model_dump(mode="json") for a in rows]

    @r.get("/metrics")
    def metrics(
        p: CurrentUser,
        category: str | None = None,
        district: str | None = None,
        range: str | None = None,
    ) -> dict[str, Any]:
        """The dashboard's figures: counts, SLA, routing quality, camera and pipeline health."""
        scope = ctx.scope(p, category, district, range)
        msg, _ = message(ctx.panel_context(scope), None, visible_panels(p))
        return msg["panels"]

    @r.get("/stats")
    def stats(p: CurrentUser) -> dict[str, Any]:
        """Open incidents by category, district and department, and every worker's counters."""
        return {
            "open_by_category": ctx.store.counts_by("category"),
            "open_by_district": ctx.store.counts_by("district"),
            "open_by_department": ctx.store.counts_by("department"),
            "pipelines": {
                k: {**v, "updated_at": v["updated_at"].isoformat()}
                for k, v in ctx.store.stats().items()
            },
        }

    @r.get("/live")
    def live(
        p: CurrentUser,
        request: Request,
        category: str | None = None,
        district: str | None = None,
        range: str | None = None,
        since: str | None = None,
        max_events: Annotated[int | None, Query(ge=1)] = None,
    ) -> StreamingResponse:
        """Server-sent events: incidents as they change plus every dashboard panel. Resume with
        Last-Event-ID (browsers do it themselves) or ?since=<cursor>."""
        scope = ctx.scope(p, category, district, range)
        cursor = parse_cursor(request.headers.get("last-event-id") or since)
        if not ctx.streams.take(p.username):
            raise HTTPException(
                429,
                f"{ctx.web.live_streams_per_user} live feeds are open for this user already",
                {"Retry-After": "5"},
            )

        def opened(n: int) -> None:
            ctx.metrics.sse_clients.inc(n)
            if n < 0:
                ctx.streams.give_back(p.username)

        def ended() -> str | None:
            try:
                ctx.auth.principal(request)  # signature, expiry, revocation, account
            except AuthError as e:
                return e.detail
            return None

        return StreamingResponse(
            event_stream(
                request,
                lambda: ctx.panel_context(scope),
                cursor,
                ctx.web.live_interval_s,
                max_events,
                on_open=opened,
                ended=ended,
                panels=visible_panels(p),
            ),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return r
