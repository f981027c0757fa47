"""After a dispatcher moves an incident A → B, the pipelines follow the hand: a reopen is
dispatched to B, not to A again, and a model summary's follow-up goes to B only. A real SQLite
store and the real worker loop over the in-memory consumer (streams/testing.py); no model
server: the follow-up is built by the summary worker's own method from a labelled item."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

from citybrain.config import Settings
from citybrain.core.ambiguity import RoutingCase
from citybrain.core.city import City
from citybrain.core.facts import key_facts
from citybrain.core.messages import Dispatch, GeneratedLabel
from citybrain.llm.step import Item, ModelStep
from citybrain.store.web_queries import WebStore
from pipelines.summaries import SummaryWorker
from tests.unit.pipelines.dispatch_rig import DispatchRig


def test_reopens_and_follow_ups_go_to_the_current_holder(
    settings: Settings, city: City, tmp_path: Path
) -> None:
    rig = DispatchRig.make(settings, city, tmp_path)
    s, store, topics, t = rig.settings, rig.store, rig.topics, rig.at
    write, send = rig.write, rig.send
    inc = rig.incident()
    write(inc)
    stage = rig.stage()
    [first] = send(inc)
    assert first.department == "water_drainage"
    moved = WebStore(store).act(
        "inc-1", "reassign", "disp-w", triage_department=city.triage_department,
        department="city_roads", reason="a burst main under the road",
    )  # fmt: skip
    assert moved.dispatch is not None and moved.dispatch.department == "city_roads"
    assert send(replace(inc, ticket_count=2)) == []  # B has it already: no second dispatch

    done = replace(inc, status="resolved", resolved_at=t, resolved_by="timeout")
    write(done)
    send(done)
    back = replace(done, status="reopened", resolved_at=None, resolved_by=None, reopened=1)
    write(back)
    [again] = send(back)
    assert again.department == "city_roads"  # the holder, not the rules' first choice
    assert send(replace(back, ticket_count=3)) == []

    # a model summary lands: its follow-up goes to the holder's latest dispatch only
    label = GeneratedLabel(generated_by="model", model="m", prompt_version="v1", language="en")
    item = Item(
        incident=back, facts=key_facts(city, back, []), texts=[],
        case=RoutingCase(rule=back.routing), summary="Water over the road.", label=label,
    )  # fmt: skip
    summaries = SummaryWorker(
        s, city, topics, store, ModelStep(city, s.llm, None), 1, {}, Counter(), stage.outbox
    )
    _, messages = summaries._follow_ups(item)
    assert [Dispatch.model_validate_json(m.value).id for m in messages] == [again.id]
    assert {m.key for m in messages} == {b"city_roads"}
