"""Live hot issues through the incident job under the real worker loop (streams/testing.py: only
Kafka is replaced), over a real SQLite store: tickets with no point and no category that say the
same thing in other words become one hot issue, stored and announced on `<prefix>.alerts` under
ids that a replay of the same stream, batched differently, gives again."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from citybrain.config import Settings
from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.messages import Observation
from citybrain.store import Store
from citybrain.streams.testing import Incoming, StageHarness, StageRun
from citybrain.streams.topics import Topics
from pipelines.incidents import IncidentStage
from tests.unit.text.test_hot_issues import TRUTH, _f1, _letters

NOW = datetime.now(UTC).replace(microsecond=0)


def _settings(settings: Settings, db: Path) -> Settings:
    hot = settings.hot_issues.model_copy(
        update={"regroup_every_s": 8 * 3600.0, "window_s": 2 * 86400.0, "min_residents": 3}
    )
    store = settings.store.model_copy(update={"url": f"sqlite:///{db}"})
    return settings.model_copy(update={"store": store, "hot_issues": hot})


def _records(topics: Topics) -> list[Incoming]:
    """The hot-issues fixture's letters as unlocated, unclassified tickets 30 minutes apart,
    then one unrelated ticket hours later whose time crosses a regrouping boundary."""
    letters = sorted((x for x in _letters() if x.at is not None), key=lambda x: (x.at, x.id))
    start = NOW - timedelta(hours=20)
    items = [(x.id, x.text, start + timedelta(minutes=30 * n)) for n, x in enumerate(letters)]
    items.append(("later", "咨询社保卡补办流程", NOW - timedelta(minutes=1)))
    obs = [
        Observation(
            id=f"obs-{tid}",
            source="ticket",
            source_id=tid,
            category=UNCLASSIFIED,
            confidence=0.5,
            observed_at=at,
            precision="unlocated",
            text=text,
        )
        for tid, text, at in items
    ]
    return [Incoming(topics.observations, o.model_dump_json().encode(), b"unlocated") for o in obs]


def _alerts(run: StageRun, topics: Topics) -> list[tuple[bytes | None, dict[str, object]]]:
    out = [(o.key, json.loads(o.value)) for o in run.outputs if o.topic == topics.alerts]
    return [(k, v) for k, v in out if v.get("type") == "hot_issue"]


def test_paraphrased_unlocated_tickets_make_stored_and_announced_hot_issues(
    settings: Settings, city: City, tmp_path: Path
) -> None:
    s, topics = _settings(settings, tmp_path / "a.db"), Topics("t")
    store = Store.from_url(s.store.url)
    stage = IncidentStage(s, city, topics, store)
    harness = StageHarness(stage)
    run = harness.run(_records(topics), ticks=4)  # idle polls run the regroupings left
    assert run.dead_letters == []
    rows = store.hot_issues()
    assert len(rows) == len(TRUTH)
    for name, truth in TRUTH.items():
        assert max(_f1(set(r.members), truth) for r in rows) >= 0.7, name
    alerts = _alerts(run, topics)
    assert {k for k, _ in alerts} >= {r.id.encode() for r in rows}
    last = {str(v["id"]): v for _, v in alerts}
    for r in rows:
        assert last[r.id]["count"] == r.count and last[r.id]["title"] == r.title
        assert "texts" not in last[r.id] and "members" not in last[r.id]  # city-wide topic

    # A restart reloads the open issues (their ids hold) and the window from the store.
    again = IncidentStage(s, city, topics, store)
    assert set(again.hot_issues.live.issues) == {r.id for r in rows}
    assert again.hot_issues.live.size == len(_records(topics))
    assert again.hot_issues.live.waiting == 0  # no regrouping per stored period


def test_a_replay_batched_differently_gives_the_same_hot_issues_and_alerts(
    settings: Settings, city: City, tmp_path: Path
) -> None:
    def once(db: str, max_poll_records: int) -> tuple[list[object], list[tuple[str, int]]]:
        s, topics = _settings(settings, tmp_path / db), Topics("t")
        store = Store.from_url(s.store.url)
        stage = IncidentStage(s, city, topics, store)
        harness = StageHarness(stage, max_poll_records=max_poll_records)
        run = harness.run(_records(topics), ticks=4)
        keys = [dict(o.headers)["idempotency-key"] for o in run.outputs
                if o.topic == topics.alerts and json.loads(o.value)["type"] == "hot_issue"]  # fmt: skip
        return keys, [(r.id, r.count) for r in store.hot_issues(open_only=False)]

    first = once("a.db", 500)
    assert first[0] and first == once("b.db", 3)
