"""What each role may read: one table for every route, enforced by one app-wide dependency.

- **public**: no sign-in (the sign-in forms, health, Open311, which checks its own keys);
- **signed_in**: any role; the route confines rows to what the role may see through
  `WebContext.scope` / `WebContext.visible` (a dispatcher: the incidents their department
  holds; 404, naming nothing, for another department's);
- **ops**: operators and admins: city-wide operations data (hot spots, hot issues, worker
  counters, camera health) that says nothing about one department's work (a hot issue's member
  tickets still only for roles that read ticket text);
- **metrics**: the Prometheus endpoint: a bearer `web.metrics_token`, or an operator/admin
  session; with no token configured, a server in `web.demo_mode` answers anyone.

A route missing from `ROUTES` is refused (403), so a new route is closed until it is listed;
a test walks every route of the app for every role.
"""

from __future__ import annotations

import hmac
from typing import Literal, Protocol

from fastapi import HTTPException, Request

from citybrain.config.web import WebSettings
from citybrain.web.auth import Auth, Principal
from citybrain.web.i18n import N_, Msg

Rule = Literal["public", "signed_in", "ops", "metrics"]

ROUTES: dict[tuple[str, str], Rule] = {
    ("GET", "/login"): "public",
    ("POST", "/login"): "public",
    ("POST", "/api/token"): "public",
    ("GET", "/healthz"): "public",
    ("GET", "/readyz"): "public",
    ("GET", "/favicon.ico"): "public",
    ("GET", "/lang/{lang}"): "public",
    ("GET", "/openapi.json"): "public",
    ("GET", "/open311/v2/services.json"): "public",
    ("POST", "/open311/v2/requests.json"): "public",
    ("GET", "/open311/v2/requests.json"): "public",
    ("GET", "/open311/v2/requests/{request_id}.json"): "public",
    ("GET", "/metrics"): "metrics",
    ("GET", "/api/hotspots"): "ops",
    ("GET", "/api/hot-issues"): "ops",
    ("GET", "/api/hot-issues/{issue_id}"): "ops",
    ("GET", "/api/stats"): "ops",
    ("POST", "/logout"): "signed_in",
    ("POST", "/api/token/revoke"): "signed_in",
    ("GET", "/"): "signed_in",
    ("GET", "/inbox"): "signed_in",
    ("GET", "/incidents"): "signed_in",
    ("GET", "/incidents/{incident_id}"): "signed_in",
    ("POST", "/incidents/{incident_id}/actions"): "signed_in",
    ("GET", "/incidents/{incident_id}/evidence/{observation_id}/snapshot.jpg"): "signed_in",
    ("GET", "/api/incidents"): "signed_in",
    ("GET", "/api/incidents/{incident_id}"): "signed_in",
    ("POST", "/api/incidents/{incident_id}/actions"): "signed_in",
    ("GET", "/api/evidence/{observation_id}/similar"): "signed_in",
    ("GET", "/api/dispatches"): "signed_in",
    ("GET", "/api/feedback"): "signed_in",
    ("GET", "/api/metrics"): "signed_in",
    ("GET", "/api/live"): "signed_in",
    ("GET", "/api/trends"): "signed_in",
    ("GET", "/cameras"): "ops",
    ("GET", "/triage"): "signed_in",
    ("POST", "/incidents/{incident_id}/triage"): "signed_in",
}

# Dashboard panels with city-wide operations data: shown to operators and admins only.
OPS_PANELS = frozenset({"hotspots", "hot_issues", "pipelines", "cameras"})


def panel_allowed(p: Principal, name: str) -> bool:
    return p.sees_all or name not in OPS_PANELS


def rule_of(request: Request) -> Rule | None:
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return ROUTES.get((request.method if request.method != "HEAD" else "GET", str(path)))


class _Gate(Protocol):
    """What the check reads of the app's WebContext: a protocol, so this module does not
    import the context (which imports the live feed, which imports this table)."""

    @property
    def web(self) -> WebSettings: ...

    @property
    def auth(self) -> Auth: ...


def enforce(request: Request) -> None:
    """The app-wide dependency: refuse what the route's rule does not allow this caller."""
    rule = rule_of(request)
    if rule is None:
        raise HTTPException(403, N_("this route is not open to anyone"))
    if rule == "public":
        return
    ctx: _Gate = request.app.state.ctx
    if rule == "metrics":
        token = ctx.web.metrics_token
        sent = request.headers.get("authorization", "")
        if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return
        if not token and ctx.web.demo_mode:
            return
        if not (request.cookies or sent):
            raise HTTPException(403, "metrics need web.metrics_token or an operator session")
    p = ctx.auth.principal(request)  # AuthError: 401 for APIs, sign-in page for pages
    if rule in ("ops", "metrics") and not p.sees_all:
        raise HTTPException(
            403, Msg("the {role} role does not see city-wide operations data", role=p.role)
        )
