"""The enumerated values the pages show (severity, hand state, how a routing was decided…),
marked for the message catalogue. They travel as English identifiers in the data and the
API; the pages and scripts translate them where they are shown (`|word` in templates,
`_()` in scripts), so an identifier added here is one .po entry, not a template change."""

from __future__ import annotations

from citybrain.web.i18n import N_

WORDS = (
    # severity
    N_("low"),
    N_("medium"),
    N_("high"),
    N_("critical"),
    # incident status and a dispatcher's hand state
    N_("open"),
    N_("updated"),
    N_("resolved"),
    N_("reopened"),
    N_("closed"),
    N_("new"),
    N_("accepted"),
    N_("all"),
    # how a routing was decided
    N_("rule"),
    N_("router"),
    N_("model"),
    N_("fallback"),
    N_("dispatcher"),
    # how a ticket was located
    N_("point"),
    N_("street"),
    N_("district"),
    N_("unlocated"),
    N_("unclassified"),
    N_("*"),  # a responsibility line for any district
    # dispatcher actions
    N_("accept"),
    N_("reassign"),
    N_("resolve"),
    N_("reject"),
    # roles
    N_("operator"),
    N_("admin"),
    # camera and pipeline health
    N_("ok"),
    N_("stale"),
    N_("never"),
    N_("errors"),
    N_("offline"),
    N_("frozen"),
    N_("covered"),
    N_("dark"),
    N_("blurred"),
    # evidence sources and audit kinds
    N_("camera"),
    N_("ticket"),
    N_("evidence"),
    N_("dispatch"),
    N_("action"),
    N_("routing"),
    # summary labels
    N_("template"),
    N_("generated"),
)
