"""The HTML pages: sign-in, the operations dashboard, incident pages and the dispatcher inbox.

State-changing forms carry the session's CSRF token; pages show ticket texts only to roles that
handle them, and a dispatcher reaches only their own department's incidents (404 otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from citybrain.core.city import City
from citybrain.core.facts import localized_template
from citybrain.core.routing import route
from citybrain.core.summary import split_template_mark
from citybrain.store.camera_queries import recent_camera_evidence
from citybrain.store.mappers import incident_from_row
from citybrain.store.models import IncidentRow
from citybrain.store.triage_queries import needing_triage
from citybrain.web import health, i18n, mapview
from citybrain.web.actions import parse_action, take_action
from citybrain.web.api import incident_detail, visible_similar
from citybrain.web.audit import summary_label
from citybrain.web.auth import COOKIE, CSRF_FIELD, Auth, Principal
from citybrain.web.context import TIME_RANGES, CurrentUser, WebContext
from citybrain.web.i18n import N_, Msg
from citybrain.web.mapview import category_colours
from citybrain.web.reasons import reason_message
from citybrain.web.snapshot import render
from citybrain.web.triage import triage_row

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
i18n.install(TEMPLATES.env)
LANG_MAX_AGE_S = 365 * 24 * 3600


def localized_label(
    city: City, row: IncidentRow, label: dict[str, Any], lang: str
) -> dict[str, Any]:
    """A template summary is rebuilt from the incident's fields in the page's language (it
    is deterministic: core/facts.localized_template); a model's text stays as written."""
    if label["kind"] != "template":
        return label
    text, _ = split_template_mark(localized_template(city, incident_from_row(row), lang))
    return {**label, "text": text}


def language_context(request: Request, ctx: WebContext) -> dict[str, Any]:
    """What every template needs to speak the request's language: the catalogue and the
    city's names in it (name_zh in Chinese)."""
    lang = i18n.request_language(request, ctx.web.default_language)
    t = i18n.translations(lang)
    city = ctx.city

    def word(value: object) -> str:
        """An enumerated value (severity, state…) in the page's language (web/words.py)."""
        return str(t.gettext(str(value))) if value not in (None, "") else ""

    def dept_name(d: str) -> str:
        return i18n.named(city.department_by_id.get(d), d, lang)

    def cat_name(c: str) -> str:
        return i18n.named(city.category_by_id.get(c), word(c), lang)

    names: i18n.Names = {
        "category": cat_name,
        "department": dept_name,
        "department_from": dept_name,
        "department_to": dept_name,
        "district": lambda d: i18n.named(city.district_by_id.get(d), word(d), lang),
        "label": lambda x: dept_name(x) if x in city.department_by_id else cat_name(x),
        "how": word,
        "precision": word,
        "action": word,
        "role": word,
    }
    return {
        "lang": lang,
        "html_lang": i18n.HTML_LANG[lang],
        "translations": t,
        "js_messages": i18n.js_messages(lang),
        "languages": i18n.LANGUAGE_NAMES,
        "dept_name": dept_name,
        "summary_label": lambda row, stored=None: localized_label(
            city, row, summary_label(row, stored), lang
        ),
        "cat_name": cat_name,
        # a message (web/i18n.Msg) in this language, its ids shown by their names
        "say": lambda text: i18n.localize(text, t, names),
        # a routing's stored reason, in this language where its shape is known
        "reason": lambda text: i18n.localize(reason_message(text or ""), t, names),
        "district_name": lambda d: (
            i18n.named(city.district_by_id.get(d), d, lang) if d else word("unlocated")
        ),
        "city_name": (city.name_zh or city.name) if lang == "zh" else city.name,
        "word": word,
    }


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so the login form cannot be used to redirect elsewhere."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))  # browsers read "/\host" as "//host"
        or any(c in target for c in "\r\n")
    ):
        return "/"
    return target


def _same_site(request: Request) -> bool:
    """A sign-in posted from another site (login CSRF: signing a victim into the attacker's
    account) is refused. There is no session yet to carry a token, so the browser's own
    headers decide: `Sec-Fetch-Site`, else `Origin` against the Host it was sent to (hosts
    only, so a TLS-terminating proxy does not matter). Clients that send neither (scripts)
    are not browsers and cannot be forged into posting."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if not origin:
        return True
    return origin != "null" and urlsplit(origin).netloc == request.headers.get("host", "")


def _client_host(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def make_router(ctx: WebContext) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    colours = category_colours(ctx.city)

    def page(
        request: Request,
        name: str,
        p: Principal | None,
        code: int = 200,
        headers: Mapping[str, str] | None = None,
        **data: Any,
    ) -> HTMLResponse:
        return TEMPLATES.TemplateResponse(
            request,
            name,
            {
                "city": ctx.city,
                "user": p,
                "csrf": p.csrf if p else "",
                "summary_of": ctx.store.summary,  # the stored label: model, template, pending
                # the router's similar past tickets this user may read (web/api.py)
                "similar_of": lambda advice, district: (
                    visible_similar(ctx, p, advice, district) if p else []
                ),
                **language_context(request, ctx),
                **data,
            },
            status_code=code,
            headers=headers,
        )

    @r.get("/lang/{lang}")
    def choose_language(lang: str, next: str = "/") -> Response:
        """The user's language, kept in a cookie for a year; it wins over the browser's."""
        if lang not in i18n.LANGUAGES:
            raise HTTPException(404, N_("no such language"))
        resp = RedirectResponse(_safe_next(next), status_code=303)
        resp.set_cookie(
            i18n.COOKIE,
            lang,
            max_age=LANG_MAX_AGE_S,
            httponly=True,
            samesite="lax",
            secure=ctx.web.cookies_secure,
        )
        return resp

    @r.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/", expired: int = 0) -> HTMLResponse:
        note = N_("Your session expired; sign in again.") if expired else ""
        return page(request, "login.html", None, next=_safe_next(next), note=note)

    @r.post("/login")
    def login(
        request: Request,
        username: Annotated[str, Form(max_length=64)],
        password: Annotated[str, Form(max_length=256)],
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        if not _same_site(request):
            return page(
                request,
                "login.html",
                None,
                403,
                next="/",
                note=N_("Sign in from this site's form."),
            )
        try:
            found = ctx.sign_in(username, password, _client_host(request))
        except HTTPException as e:
            return page(
                request,
                "login.html",
                None,
                e.status_code,
                next=_safe_next(next),
                note=e.detail,  # the template translates it
                headers=e.headers,
            )
        if found is None:
            return page(
                request,
                "login.html",
                None,
                401,
                next=_safe_next(next),
                note=N_("Wrong username or password."),
            )
        target = _safe_next(next)
        if found.role == "dispatcher" and target == "/":
            target = "/inbox"
        resp = RedirectResponse(target, status_code=303)
        resp.set_cookie(
            COOKIE,
            ctx.auth.issue(found),
            max_age=ctx.web.session_max_age_s,
            httponly=True,
            samesite="lax",
            secure=ctx.web.cookies_secure,
        )
        return resp

    @r.post("/logout")
    def logout(p: CurrentUser, csrf_token: Annotated[str, Form()] = "") -> Response:
        if not Auth.csrf_ok(p, csrf_token):
            raise HTTPException(403, N_("missing or wrong CSRF token"))
        ctx.sign_out(p)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE)
        return resp

    @r.get("/", response_class=HTMLResponse)
    def dashboard(request: Request, p: CurrentUser) -> HTMLResponse:
        lc = language_context(request, ctx)
        lang = lc["lang"]
        city = ctx.city
        config = {
            "lang": lang,
            "map": {
                "layers": mapview.layers(city, lang),
                "bounds": mapview.bounds(city),
                "tiles": ctx.web.map.style,
                "attribution": ctx.web.map.attribution,
                "maxZoom": ctx.web.map.max_zoom,
            },
            "colours": colours,
            "categories": {c.id: i18n.named(c, c.id, lang) for c in city.categories},
            "departments": {d.id: i18n.named(d, d.id, lang) for d in city.departments},
            "districts": {d.id: i18n.named(d, d.id, lang) for d in city.districts},
            "pageSize": ctx.web.page_size,
        }
        return page(
            request,
            "dashboard.html",
            p,
            colours=colours,
            ranges=list(TIME_RANGES),
            config=config,  # rendered with tojson, which escapes <, > and & for HTML
        )

    @r.get("/cameras", response_class=HTMLResponse)
    def camera_wall(request: Request, p: CurrentUser) -> HTMLResponse:
        """Every camera's latest privacy-masked frame, its health and its recent events."""
        city = ctx.city
        health_of = {
            h["id"]: h
            for h in health.cameras(
                city, ctx.store.stats(), ctx.rates, ctx.web.camera_stale_s, datetime.now(UTC)
            )
        }
        events = recent_camera_evidence(ctx.store, [c.id for c in city.cameras])
        cameras = [
            {
                "id": c.id,
                "name": c.name,
                "district": c.district,
                "health": health_of.get(c.id, {"status": "never", "fps": 0, "errors": 0}),
                "events": events.get(c.id, []),
            }
            for c in city.cameras
        ]
        return page(request, "cameras.html", p, cameras=cameras)

    @r.get("/incidents", response_class=HTMLResponse)
    def incident_list(
        request: Request,
        p: CurrentUser,
        status: Annotated[str, Query(pattern="^(open|all)$")] = "open",
        category: str | None = None,
        district: str | None = None,
        range: str | None = None,
        page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
    ) -> HTMLResponse:
        scope = ctx.scope(p, category or None, district or None, range or None)
        rows, total = ctx.ws.page(scope, page_no, ctx.web.page_size, open_only=status == "open")
        pages = max(1, -(-total // ctx.web.page_size))
        query = "&".join(
            f"{k}={quote(v)}"
            for k, v in (
                ("status", status),
                ("category", category or ""),
                ("district", district or ""),
                ("range", range or ""),
            )
            if v
        )
        return page(
            request,
            "incidents.html",
            p,
            rows=rows,
            total=total,
            page_no=page_no,
            pages=pages,
            query=query,
            status=status,
        )

    @r.get("/incidents/{incident_id}", response_class=HTMLResponse)
    def incident_page(request: Request, p: CurrentUser, incident_id: str) -> HTMLResponse:
        detail = incident_detail(ctx, p, incident_id)
        lang = i18n.request_language(request, ctx.web.default_language)
        row = ctx.visible(p, incident_id).row
        detail["summary_label"] = localized_label(ctx.city, row, detail["summary_label"], lang)
        return page(
            request,
            "incident.html",
            p,
            i=detail,
            departments=ctx.city.departments,
            triage=ctx.city.triage_department,
        )

    @r.get("/incidents/{incident_id}/evidence/{observation_id}/snapshot.jpg")
    def snapshot(p: CurrentUser, incident_id: str, observation_id: str) -> Response:
        v = ctx.visible(p, incident_id)
        ev = next((e for e in ctx.ws.evidence_of(v.id) if e.observation_id == observation_id), None)
        if ev is None or not ev.frame_ref:
            raise HTTPException(404, N_("no camera frame for this evidence"))
        jpeg = ctx.frames.read(ev.frame_ref)
        if jpeg is None:
            raise HTTPException(404, N_("the frame is no longer retained in the stream"))
        out = render(
            jpeg,
            ev.detections or [],
            ctx.city.camera_by_id.get(ev.source_id),
            ctx.web.snapshot_blur,
            ctx.web.person_classes,
            ctx.web.plate_classes,
            ev.privacy_boxes,
            (ctx.settings.vision.max_frame_pixels, ctx.settings.vision.max_progressive_pixels),
        )
        if out is None:
            raise HTTPException(404, N_("the frame could not be decoded"))
        return Response(
            out, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=300"}
        )

    @r.get("/inbox", response_class=HTMLResponse)
    def inbox(
        request: Request,
        p: CurrentUser,
        department: str | None = None,
        page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
        done: str | None = None,
    ) -> HTMLResponse:
        if p.sees_all:
            dept = department or ctx.city.triage_department
        else:
            dept = p.department or ""
            if department and department != dept:
                raise HTTPException(404, N_("no such inbox"))
        if dept not in ctx.city.department_by_id:
            raise HTTPException(404, Msg("unknown department {department!r}", department=dept))
        rows, total = ctx.ws.inbox(dept, page_no, ctx.web.page_size)
        pages = max(1, -(-total // ctx.web.page_size))
        return page(
            request,
            "inbox.html",
            p,
            dept=dept,
            rows=rows,
            total=total,
            page_no=page_no,
            pages=pages,
            departments=ctx.city.departments,
            triage=ctx.city.triage_department,
            done=done,
        )

    @r.get("/triage", response_class=HTMLResponse)
    def triage(
        request: Request,
        p: CurrentUser,
        page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
        done: str | None = None,
    ) -> HTMLResponse:
        """Open incidents without category or place (a dispatcher: their department's)."""
        views, total = needing_triage(ctx.store, ctx.scope(p), page_no, ctx.web.page_size)
        rows = [
            triage_row(
                ctx.city,
                v,
                [e.text for e in ctx.ws.evidence_of(v.id) if e.text] if p.sees_ticket_text else [],
            )
            for v in views
        ]
        pages = max(1, -(-total // ctx.web.page_size))
        return page(
            request,
            "triage.html",
            p,
            rows=rows,
            total=total,
            page_no=page_no,
            pages=pages,
            done=done,
        )

    @r.post("/incidents/{incident_id}/triage")
    async def set_category_and_place(
        request: Request, p: CurrentUser, incident_id: str
    ) -> Response:
        """One click: the category and district a person chose route the incident to the
        department the responsibility list names for them (a reassignment the router learns
        from), or accept it where it already is."""
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        if not Auth.csrf_ok(p, form.get(CSRF_FIELD)):
            raise HTTPException(
                403, N_("missing or wrong CSRF token; reload the page and try again")
            )
        category, district = form.get("category", ""), form.get("district", "")
        if category not in ctx.city.category_by_id:
            raise HTTPException(422, Msg("unknown category {category!r}", category=category))
        if district not in ctx.city.district_by_id:
            raise HTTPException(422, Msg("unknown district {district!r}", district=district))
        view = ctx.visible(p, incident_id)
        target = route(ctx.city, category, district).department
        reason = f"triage: {category} in {district}"
        fields = (
            {"action": "reassign", "department": target, "reason": reason}
            if target != view.department
            else {"action": "accept"}
        )
        result = await run_in_threadpool(take_action, ctx, p, incident_id, parse_action(fields))
        return RedirectResponse(f"/triage?done={quote(result.action.action)}", status_code=303)

    @r.post("/incidents/{incident_id}/actions")
    async def act(request: Request, p: CurrentUser, incident_id: str) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        if not Auth.csrf_ok(p, form.pop(CSRF_FIELD, None)):
            raise HTTPException(
                403, N_("missing or wrong CSRF token; reload the page and try again")
            )
        back = _safe_next(form.pop("next", None) or "/inbox")
        # store writes and the Kafka flush block: run them off the event loop (SSE streams)
        result = await run_in_threadpool(take_action, ctx, p, incident_id, parse_action(form))
        sep = "&" if "?" in back else "?"
        return RedirectResponse(f"{back}{sep}done={quote(result.action.action)}", status_code=303)

    return r
