"""Routing reasons in the page's language. The pipeline stores a routing's reason as English
text in a few fixed shapes (core/routing.py, core/advised.py); a page recognises those shapes
and shows them as catalogue messages, with the ids in them shown by their names. A reason of
any other shape is shown as written."""

from __future__ import annotations

import re

from citybrain.web.i18n import N_, Msg

_ID = r"[A-Za-z0-9_.:/*-]+"
_NUM = r"[0-9.]+"
SHAPES: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            rf"^responsibility list: (?P<category>{_ID}) in (?P<district>{_ID}) -> (?P<department>{_ID})$"
        ),
        N_("responsibility list: {category} in {district} → {department}"),
    ),
    (
        re.compile(
            rf"^responsibility list: (?P<category>{_ID}) anywhere -> (?P<department>{_ID})$"
        ),
        N_("responsibility list: {category} anywhere → {department}"),
    ),
    (
        re.compile(
            rf"^(?P<category>{_ID}) is split by district and the location is unknown: triage$"
        ),
        N_("{category} is handled by district and the place is unknown: to triage"),
    ),
    (
        re.compile(
            rf"^no responsibility line for (?P<category>{_ID}) in (?P<district>{_ID}): triage$"
        ),
        N_("no department is responsible for {category} in {district}: to triage"),
    ),
    (
        re.compile(rf"^no responsibility line for (?P<category>{_ID}): triage$"),
        N_("no department is responsible for {category}: to triage"),
    ),
    (
        re.compile(rf"^router unsure: (?P<label>{_ID}) at (?P<p>{_NUM}): triage$"),
        N_("the router is unsure ({label} at {p}): to triage"),
    ),
    (
        re.compile(
            rf"^router: best (?P<label>{_ID}) at (?P<p>{_NUM}), under (?P<min>{_NUM}): triage$"
        ),
        N_("the router's best guess {label} at {p} is under {min}: to triage"),
    ),
    (
        re.compile(
            rf"^router: (?P<label>{_ID}) at (?P<p>{_NUM}) >= auto-dispatch threshold (?P<threshold>{_NUM})"
        ),
        N_("the router chose {label} at {p} (auto-dispatch from {threshold})"),
    ),
]


def reason_message(reason: str) -> str:
    """The reason as a Msg when it has a known shape, else the text itself."""
    for pattern, msgid in SHAPES:
        m = pattern.match(reason)
        if m:
            return Msg(msgid, **m.groupdict())
    return reason
