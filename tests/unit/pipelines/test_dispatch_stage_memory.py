"""The dispatch stage over a real SQLite store, under the real worker loop with an in-memory
consumer (streams/testing.py; no broker, no model: `llm.enabled` off): one
dispatch per incident and department, a new one when a resolved incident comes back, and a
memory of open incidents only, so a job that runs for months stays small."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from citybrain.config import Settings
from citybrain.core.city import City
from tests.unit.pipelines.dispatch_rig import DispatchRig


def test_resolved_incidents_leave_the_stages_memory(
    settings: Settings, city: City, tmp_path: Path
) -> None:
    rig = DispatchRig.make(settings, city, tmp_path)
    inc = rig.incident()
    rig.write(inc)
    stage = rig.stage()
    [first] = rig.send(inc)
    assert first.department == "water_drainage" and "inc-1" in stage._sent
    assert rig.send(replace(inc, ticket_count=2)) == []  # an update: no second dispatch
    done = replace(inc, status="resolved", resolved_at=rig.at, resolved_by="timeout")
    rig.write(done)
    rig.send(done)
    assert "inc-1" not in stage._sent and "inc-1" not in stage._decided
    # a restarted stage loads only incidents still open
    stage = rig.stage()
    assert stage._sent == {}

    # the problem comes back: fusion reopens the incident, and its department is told again
    back = replace(done, status="reopened", resolved_at=None, resolved_by=None, reopened=1)
    rig.write(back)
    [again] = rig.send(back)
    assert again.department == "water_drainage" and again.id != first.id
    assert rig.send(replace(back, ticket_count=3)) == []  # its updates: no third dispatch
    assert {d.id for d in rig.store.dispatches()} == {first.id, again.id}
