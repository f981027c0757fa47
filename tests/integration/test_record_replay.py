"""Record a simulator run, replay it into a fresh namespace, run the real pipelines on both and
compare: the same archive gives the same incidents, dispatches and summaries; a changed
responsibility line shows up as a changed department; bad archives and busy namespaces are
refused with nothing produced."""

from __future__ import annotations

import json
import re
import shutil
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from citybrain.cli import app
from citybrain.config import Settings
from citybrain.config.rules import Rule
from citybrain.replay.diff import diff_runs
from citybrain.replay.errors import ArchiveError, EmptySelection, NamespaceNotEmpty
from citybrain.replay.play import ReplayOptions, namespace_has_data, replay
from citybrain.replay.record import record
from citybrain.replay.runs import FILES, export_run, load_run
from citybrain.runtime import run_job
from citybrain.sim.produce import produce_city
from citybrain.store import Store
from citybrain.streams.broker import EmbeddedBroker
from citybrain.streams.topics import ensure_topics

from .conftest import read_topic

pytestmark = pytest.mark.integration


def namespace(settings: Settings, broker: EmbeddedBroker, work: Path, name: str) -> Settings:
    """One partition per topic: with the jobs run one after another, every observation then
    reaches fusion in one order, the condition under which a run repeats exactly (ARCHIVE.md)."""
    prefix = f"{name}{uuid.uuid4().hex[:8]}"
    return settings.model_copy(
        update={
            "kafka": settings.kafka.model_copy(
                update={
                    "bootstrap_servers": broker.bootstrap,
                    "topic_prefix": prefix,
                    "partitions": 1,
                    # short group timeouts: the dev broker's join waits for them (DESIGN.md);
                    # vision keeps the defaults, its first batch (model warm-up) takes longer
                    "max_poll_interval_ms": 4000,
                    "session_timeout_ms": 4000,
                }
            ),
            "store": settings.store.model_copy(update={"url": f"sqlite:///{work}/{name}.db"}),
            # Rules and templates only: whether a model answer lands within the dispatch job's
            # time budget depends on the machine's load, the one source of difference
            # ARCHIVE.md excludes from byte-for-byte comparison.
            "llm": settings.llm.model_copy(update={"enabled": False}),
            "vision": settings.vision.model_copy(update={"batch_size": 4}),
            # a camera event opens on its first frame: the short recording holds few frames
            "rules": settings.rules.model_copy(
                update={"default": Rule(window_n=1, open_k=1, clear_m=1)}
            ),
            "simulator": settings.simulator.model_copy(
                update={
                    "duration_s": 900.0,
                    "frame_interval_s": 450.0,
                    "width": 320,
                    "height": 180,
                    "events": 8,
                    "unrelated_tickets": 3,
                    "ground_truth": work / "truth.json",
                }
            ),
        }
    )


def run_pipelines(
    s: Settings, jobs: tuple[str, ...] = ("vision", "tickets", "incidents", "dispatch")
) -> None:
    slow = s.kafka.model_copy(update={"max_poll_interval_ms": 20_000, "session_timeout_ms": 10_000})
    for job in jobs:  # one after another: observations reach fusion in a repeatable order
        js = s.model_copy(update={"kafka": slow}) if job == "vision" else s
        run_job(job, js, stop=threading.Event(), idle_exit_s=1.0, first_wait_s=20.0)


@pytest.fixture(scope="module")
def recorded(
    settings: Settings, broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("replay")
    a = namespace(settings, broker, work, "a")
    ensure_topics(a.kafka)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=900)
    produced = produce_city(a, start=start)
    run_pipelines(a)
    export_run(Store.from_url(a.store.url), work / "run_a")
    manifest = record(a.kafka, ["frames", "tickets"], work / "archive")
    return {"work": work, "a": a, "produced": produced, "manifest": manifest}


def test_archive_holds_every_produced_record(recorded: dict[str, Any]) -> None:
    m, produced = recorded["manifest"], recorded["produced"]
    assert m.complete
    counts = {t: sum(p.records for p in e.partitions.values()) for t, e in m.topics.items()}
    assert counts == {"frames": produced["frames"], "tickets": produced["tickets"]}
    root = recorded["work"] / "archive"
    assert len(list((root / "frames").rglob("*.jpg"))) == produced["frames"]
    assert not (recorded["work"] / "archive.partial").exists()
    # Tickets are archived without the personal data the simulated reporters wrote.
    assert m.redacted
    lines = (root / "tickets").glob("p*.jsonl")
    archived = "".join(f.read_text(encoding="utf-8") for f in lines)
    assert "[PHONE]" in archived and not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", archived)


def test_replay_gives_identical_outputs_and_a_rule_change_shows(
    recorded: dict[str, Any], settings: Settings, broker: EmbeddedBroker
) -> None:
    work = recorded["work"]
    b = namespace(settings, broker, work, "b")
    result = replay(work / "archive", b.kafka, ReplayOptions(speed=None))
    assert result.produced == {
        "frames": recorded["produced"]["frames"],
        "tickets": recorded["produced"]["tickets"],
    }
    run_pipelines(b)
    res = CliRunner().invoke(
        app, ["export-run", "--out", str(work / "run_b"), "--store", b.store.url]
    )
    assert res.exit_code == 0, res.output
    run_a, run_b = load_run(work / "run_a"), load_run(work / "run_b")
    assert run_a.incidents and run_a.dispatches
    for name in FILES:  # byte for byte, apart from run.json's export time
        assert (work / "run_a" / f"{name}.jsonl").read_bytes() == (
            work / "run_b" / f"{name}.jsonl"
        ).read_bytes(), name
    assert diff_runs(run_a, run_b).empty

    # The same observations through the incident job with one responsibility line changed.
    first = next(i for i in run_b.incidents if i["district"])
    city_dir = work / "city_changed"
    shutil.copytree(settings.city.dir, city_dir)
    deps = yaml.safe_load((city_dir / "departments.yaml").read_text(encoding="utf-8"))
    other = next(d["id"] for d in deps["departments"] if d["id"] != first["routing"]["department"])
    deps["responsibilities"].insert(
        0, {"category": first["category"], "district": first["district"], "department": other}
    )
    (city_dir / "departments.yaml").write_text(yaml.safe_dump(deps, allow_unicode=True))
    c = b.model_copy(
        update={
            "city": b.city.model_copy(update={"dir": city_dir}),
            "kafka": b.kafka.model_copy(update={"group_prefix": "rule-change"}),
            "store": b.store.model_copy(update={"url": f"sqlite:///{work}/c.db"}),
        }
    )
    run_pipelines(c, ("incidents", "dispatch"))
    export_run(Store.from_url(c.store.url), work / "run_c")
    out = CliRunner().invoke(app, ["diff", str(work / "run_b"), str(work / "run_c"), "--json"])
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)
    assert not d["identical"] and not d["appeared"] and not d["disappeared"]
    changed = [x for x in d["changed"] if "department" in x["changes"]]
    assert changed and all(x["changes"]["department"]["b"] == other for x in changed)
    assert {(x["b"]["category"], x["b"]["district"]) for x in changed} == {
        (first["category"], first["district"])
    }
    assert {x["department"] for x in d["dispatches"]["appeared"]} == {other}
    table = CliRunner().invoke(
        app, ["diff", str(work / "run_b"), str(work / "run_c")], env={"COLUMNS": "250"}
    )
    assert "changed department" in table.output

    # The same archive through every job with a camera rule made stricter than the recording
    # can satisfy (more frames to open an event than any camera sent): camera evidence stops
    # reaching fusion, and the diff shows what that costs.
    assert any(i["camera_count"] for i in run_b.incidents), "the run should hold camera evidence"
    d_ns = namespace(settings, broker, work, "d")
    replay(work / "archive", d_ns.kafka, ReplayOptions(speed=None))
    strict = d_ns.rules.model_copy(update={"default": Rule(window_n=9, open_k=9, clear_m=1)})
    d_ns = d_ns.model_copy(update={"rules": strict})
    run_pipelines(d_ns)
    export_run(Store.from_url(d_ns.store.url), work / "run_d")
    camera_rule = diff_runs(run_b, load_run(work / "run_d"))
    assert not camera_rule.empty
    camera_only = {i["id"] for i in run_b.incidents if i["camera_count"] and not i["ticket_count"]}
    gone = {x["id"] for x in camera_rule.disappeared}
    assert camera_only <= gone
    assert all(i["camera_count"] == 0 for i in load_run(work / "run_d").incidents)


def test_replay_refuses_a_busy_namespace_and_bad_archives(
    recorded: dict[str, Any], tmp_path: Path
) -> None:
    a = recorded["a"]
    with pytest.raises(NamespaceNotEmpty, match="already has data"):
        replay(recorded["work"] / "archive", a.kafka, ReplayOptions())

    fresh = a.kafka.model_copy(update={"topic_prefix": f"x{uuid.uuid4().hex[:8]}"})
    tampered = tmp_path / "tampered"
    shutil.copytree(recorded["work"] / "archive", tampered)
    jpeg = sorted((tampered / "frames").rglob("*.jpg"))[3]
    data = bytearray(jpeg.read_bytes())
    data[100] ^= 0xFF
    jpeg.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="checksum mismatch"):
        replay(tampered, fresh, ReplayOptions())

    truncated = tmp_path / "truncated"
    shutil.copytree(recorded["work"] / "archive", truncated)
    index = truncated / "tickets" / "p0.jsonl"
    index.write_bytes(b"".join(index.read_bytes().splitlines(keepends=True)[:-1]))
    res = CliRunner().invoke(app, ["replay", str(truncated), "--prefix", fresh.topic_prefix])
    assert res.exit_code == 1 and "truncated" in res.output
    assert namespace_has_data(fresh) == []  # nothing was produced by either attempt

    with pytest.raises(EmptySelection):
        replay(recorded["work"] / "archive", fresh, ReplayOptions(to_ms=1_000))

    # One camera, ten times faster than recorded, times moved to now.
    res = CliRunner().invoke(
        app,
        [
            "replay",
            str(recorded["work"] / "archive"),
            "--prefix",
            fresh.topic_prefix,
            "--speed",
            "10",
            "--cameras",
            "cam-01",
            "--shift-to-now",
        ],
        env={"CITYBRAIN_KAFKA__BOOTSTRAP_SERVERS": fresh.bootstrap_servers},
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    frames = read_topic(fresh.bootstrap_servers, f"{fresh.topic_prefix}.frames")
    assert {dict(r.headers)["camera_id"] for r in frames} == {b"cam-01"}
    assert out["produced"] == {"frames": len(frames), "tickets": recorded["produced"]["tickets"]}
    original = read_topic(a.kafka.bootstrap_servers, f"{a.kafka.topic_prefix}.frames")
    before = {int(dict(r.headers)["ts_ms"]) for r in original if r.key == b"cam-01"}
    after = {int(dict(r.headers)["ts_ms"]) for r in frames}
    assert out["shift_ms"] > 0 and after == {t + out["shift_ms"] for t in before}

    # Two passes: the second renames tickets and continues frame numbers, so it is new evidence.
    looped = a.kafka.model_copy(update={"topic_prefix": f"l{uuid.uuid4().hex[:8]}"})
    result = replay(
        recorded["work"] / "archive", looped, ReplayOptions(loops=2, cameras=frozenset({"cam-02"}))
    )
    assert result.passes == 2 and result.produced["tickets"] == 2 * recorded["produced"]["tickets"]
    ids = [r.key for r in read_topic(looped.bootstrap_servers, f"{looped.topic_prefix}.tickets")]
    assert len(set(ids)) == len(ids) - 2 * recorded["produced"]["broken_tickets"] + 1
    assert (
        sum(k.endswith(b"~1") for k in ids)
        == len(ids) // 2 - recorded["produced"]["broken_tickets"]
    )
    seqs = [
        int(dict(r.headers)["seq"])
        for r in read_topic(looped.bootstrap_servers, f"{looped.topic_prefix}.frames")
    ]
    assert len(seqs) == len(set(seqs)) == 2 * len(before)


def test_record_resumes_after_interruption_and_refuses_an_empty_window(
    recorded: dict[str, Any], tmp_path: Path
) -> None:
    a = recorded["a"]
    out = tmp_path / "arch"
    first = record(a.kafka, ["tickets", "frames"], out, max_records=10)
    assert not first.complete and not out.exists() and (tmp_path / "arch.partial").exists()
    assert first.records() == 10
    done = record(a.kafka, ["tickets", "frames"], out)
    assert done.complete and out.exists() and not (tmp_path / "arch.partial").exists()
    whole = recorded["work"] / "archive"
    for f in ("tickets/p0.jsonl", "frames/p0.jsonl"):
        assert (out / f).read_bytes() == (whole / f).read_bytes()

    empty = tmp_path / "empty"
    res = CliRunner().invoke(
        app,
        [
            "record",
            str(empty),
            "--prefix",
            a.kafka.topic_prefix,
            "--from",
            "2001-01-01T00:00:00Z",
            "--to",
            "2001-01-02T00:00:00Z",
        ],
        env={"CITYBRAIN_KAFKA__BOOTSTRAP_SERVERS": a.kafka.bootstrap_servers},
    )
    assert res.exit_code == 1 and "no records" in res.output
    assert not empty.exists() and not (tmp_path / "empty.partial").exists()


def test_eval_incidents_scores_the_run_against_the_truth(recorded: dict[str, Any]) -> None:
    work = recorded["work"]
    res = CliRunner().invoke(
        app,
        ["eval", "incidents", str(work / "run_a"), "--truth", str(work / "truth.json"), "--json"],
    )
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    truth = json.loads((work / "truth.json").read_text())
    reported = sum(e["reported"] for e in truth["events"])
    assert r["truth_score"]["reported_events"] == reported
    assert r["events_detected"] >= r["truth_score"]["one_correct_incident"]
    assert r["routing_accuracy"] is not None and 0 <= r["routing_accuracy"] <= 1
