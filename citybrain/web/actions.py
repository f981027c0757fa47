"""A dispatcher's decision, checked the same way whether it comes from the inbox form or the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from citybrain.core.redaction import redact
from citybrain.delivery.webhooks import webhook_urls
from citybrain.store.web_queries import ActionError, ActionResult
from citybrain.web.auth import Principal
from citybrain.web.context import WebContext
from citybrain.web.i18n import N_, Msg

REQUIRED_TEXT = {"reassign": "reason", "reject": "reason", "resolve": "note"}
# The refusals above as the error page shows them (translated there: web/i18n.localize).
REFUSALS = (
    N_("reassign needs a reason"),
    N_("reject needs a reason"),
    N_("resolve needs a note"),
    N_("reassign needs a department"),
)


class ActionIn(BaseModel):
    """accept; reassign (department + reason); resolve (note, sent as `reason`); reject (reason)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: Literal["accept", "reassign", "resolve", "reject"] = Field(title="What to do")
    department: str | None = Field(None, max_length=64, title="New department (reassign)")
    reason: str | None = Field(None, max_length=2000, title="Reason, or the note when resolving")
    summary_sha256: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{64}$",
        title="sha256 of the summary text shown (accept; `summary_label.sha256` of the "
        "incident): the summary is confirmed only while it is still that text",
    )

    @model_validator(mode="after")
    def _required(self) -> ActionIn:
        need = REQUIRED_TEXT.get(self.action)
        if need and not self.reason:
            raise ValueError(f"{self.action} needs a {need}")
        if self.action == "reassign" and not self.department:
            raise ValueError("reassign needs a department")
        return self


def parse_action(data: Mapping[str, object]) -> ActionIn:
    """Form or JSON fields to an ActionIn; a clear 422 for anything missing or wrong."""
    try:
        return ActionIn.model_validate({k: v for k, v in data.items() if v not in ("", None)})
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        msg = str(first["msg"]).removeprefix("Value error, ")
        raise HTTPException(422, f"{where}: {msg}" if where else msg) from e


def take_action(ctx: WebContext, p: Principal, incident_id: str, a: ActionIn) -> ActionResult:
    view = ctx.visible(p, incident_id)  # 404 for other departments' incidents
    if not p.may_act:
        raise HTTPException(403, Msg("the {role} role cannot act on incidents", role=p.role))
    if a.department is not None and a.department not in ctx.city.department_by_id:
        raise HTTPException(
            422, Msg("department: unknown department {department!r}", department=a.department)
        )
    try:
        result = ctx.ws.act(
            view.id,
            a.action,
            p.username,
            triage_department=ctx.city.triage_department,
            department=a.department,
            reason=redact(a.reason).text if a.reason else None,  # it travels to other departments
            webhooks=webhook_urls(ctx.city, ctx.settings.dispatch),
            as_department=None if p.sees_all else p.department,
        )
    except ActionError as e:
        raise HTTPException(409, str(e)) from e
    if a.action == "accept" and a.summary_sha256:
        # Accepting is the dispatcher confirming what they read: the generated summary's label
        # turns verified if it is still the text their page showed (a later change of its text
        # drops the confirmation again). An accept that names no text confirms none.
        ctx.store.verify_summary(view.id, p.username, a.summary_sha256)
    ctx.metrics.actions.labels(a.action).inc()
    ctx.emit()
    return result
