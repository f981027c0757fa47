"""Incident quality on the synthetic city: cameras and tickets through the real stage code
(camera rules with ByteTrack, the ticket stage, fusion), scored against the simulator's truth.

    .venv/bin/python tools/fusion_quality.py [--seeds 10] [--events 12] [--miss 0.2] [--fp 0.02]
        [--persistence K,N,M] [--paraphrase 0.3] [--similarity 0.2] [--matcher encoder|ngram]

Camera detections are the simulator's own boxes for what it drew (a perfect detector), with
`--miss` of them dropped and `--fp` false boxes per frame added, so the figures measure rules
and fusion, not the demo detector's training. Prints a Markdown table.

Metrics, per run and pooled over seeds:
- precision: incidents whose evidence is mostly about one real event / incidents (reports the
  simulator marks unrelated are triaged alone and left out of both counts);
- recall: events with any evidence (a report, or a camera that watches them) that got an incident;
- duplicate rate: extra incidents per event that got one (0: every event exactly one);
- merged: incidents gathering evidence of two or more real events;
- time to incident: event time from an event's first evidence (its first report, or its start
  when a camera watches it) to the observation that opened its incident;
- paraphrased reports (`--paraphrase`: that share of an event's reports says the problem with
  no category keyword): how many joined their event's incident, another event's, or none.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

os.environ.setdefault("YOLO_CONFIG_DIR", "var/ultralytics")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from citybrain.city_loading import load_all
from citybrain.config import Settings
from citybrain.core.city import UNCLASSIFIED, City
from citybrain.core.evaluation import IncidentFacts, score_against_truth
from citybrain.core.fusion import Fuser
from citybrain.core.messages import FrameMeta, Observation
from citybrain.core.routing import route
from citybrain.sim import ground_truth, simulate
from citybrain.sim.render import render_annotated
from citybrain.sim.stream import frame_offsets_ms
from citybrain.streams.topics import Topics
from citybrain.text.paraphrase import ParaphraseMatcher
from citybrain.text.paraphrase_encoder import EncoderMatcher
from citybrain.vision.detections import Detections
from citybrain.vision.events import CameraEvents
from pipelines.tickets import TicketStage

START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
_NOISE_STREAM = 11


@dataclass
class RunQuality:
    seed: int
    incidents: int = 0
    true_incidents: int = 0
    merged: int = 0
    events_with_evidence: int = 0
    events_found: int = 0
    extra_incidents: int = 0
    delays_s: list[float] = field(default_factory=list)
    truth_problems: list[str] = field(default_factory=list)
    paraphrases: Counter[str] = field(default_factory=Counter)  # joined_right, joined_wrong, alone
    wrong_joins: list[str] = field(default_factory=list)  # a paraphrase and the reports it joined
    stats: Counter[str] = field(default_factory=Counter)
    incidents_of_event: dict[str, set[str]] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        return self.true_incidents / self.incidents if self.incidents else 1.0

    @property
    def recall(self) -> float:
        return self.events_found / self.events_with_evidence if self.events_with_evidence else 1.0

    @property
    def duplicate_rate(self) -> float:
        return self.extra_incidents / self.events_found if self.events_found else 0.0


def _detections(
    boxes: list, rng: np.random.Generator, miss: float, fp: float, names: list[str]
) -> Detections:
    kept = [b for b in boxes if rng.random() >= miss]
    rows = [(b.cls, (b.x1, b.y1, b.x2, b.y2)) for b in kept]
    if rng.random() < fp:  # a false box of a random class somewhere in the lower frame
        x, y = float(rng.uniform(0, 0.9)), float(rng.uniform(0.5, 0.9))
        rows.append((names[int(rng.integers(0, len(names)))], (x, y, x + 0.1, y + 0.1)))
    if not rows:
        return Detections.empty()
    return Detections.from_named(
        np.array([r[1] for r in rows], np.float32),
        np.full(len(rows), 0.9, np.float32),
        tuple(r[0] for r in rows),
    )


def evaluate(
    settings: Settings,
    city: City,
    seed: int,
    events: int | None = None,
    miss: float = 0.2,
    fp: float = 0.02,
    width: int = 320,
    height: int = 180,
    paraphrase: float = 0.0,
    matcher: EncoderMatcher | ParaphraseMatcher | None = None,
) -> RunQuality:
    sim_settings = settings.simulator.model_copy(
        update={
            "seed": seed,
            "events": settings.simulator.events if events is None else events,
            "width": width,
            "height": height,
            "paraphrase_share": paraphrase,
        }
    )
    sim = simulate(city, sim_settings, START)
    truth = ground_truth(city, sim_settings, START)
    tickets = TicketStage(settings, city, Topics("eval"))
    stats: Counter[str] = Counter()
    cams = CameraEvents(settings, city, stats)
    fuser = Fuser(
        city,
        settings.incidents,
        matcher=matcher if matcher is not None else ParaphraseMatcher.for_city(city),
    )
    rng = np.random.default_rng([seed, _NOISE_STREAM])
    names = sorted({c for cat in city.categories for c in cat.detector_classes})

    # Every record in event-time order (frames first at equal times), as the simulator sends.
    timeline: list[tuple[datetime, int, object]] = []
    for seq, off in enumerate(frame_offsets_ms(sim_settings)):
        for ci in range(len(city.cameras)):
            timeline.append((START + timedelta(milliseconds=off), 0, (seq, ci)))
    for st in sim.tickets:
        timeline.append((st.ticket.received_at, 1, st))
    timeline.sort(key=lambda x: (x[0], x[1]))

    created_at: dict[str, datetime] = {}
    incident_of_ticket: dict[str, str] = {}
    camera_obs: list[tuple[Observation, str]] = []
    for t, kind, item in timeline:
        observations: list[Observation] = []
        if kind == 0:
            seq, ci = item  # type: ignore[misc]
            camera = city.cameras[ci]
            visible = [
                e for e in sim.scenario.events if e.camera_id == camera.id and e.active_at(t)
            ]
            frame_rng = np.random.default_rng([seed, 3, ci, seq])
            _, boxes = render_annotated(camera, visible, t, width, height, frame_rng)
            meta = FrameMeta(
                camera_id=camera.id,
                ts_ms=round(t.timestamp() * 1000),
                seq=seq,
                width=width,
                height=height,
            )
            dets = _detections(boxes, rng, miss, fp, names)
            observations = [o for _, o in cams.observe(camera, meta, dets, None)]
        else:
            observations = [tickets.observe(item.ticket.model_dump_json().encode())]  # type: ignore[attr-defined]
        for obs in observations:
            result = fuser.apply(obs)
            if result.created and result.incident is not None:
                created_at[result.incident.id] = obs.observed_at
            if result.incident is not None:
                if obs.source == "ticket":
                    incident_of_ticket[obs.source_id] = result.incident.id
                else:
                    camera_obs.append((obs, result.incident.id))

    q = RunQuality(seed=seed, stats=stats)
    event_of_ticket = {t: ev["id"] for ev in truth["events"] for t in ev["ticket_ids"]}
    slack = timedelta(seconds=sim_settings.frame_interval_s * (settings.rules.default.clear_m + 1))
    spans = {
        ev["id"]: (
            ev["camera_id"],
            ev["category"],
            datetime.fromisoformat(ev["starts_at"]),
            datetime.fromisoformat(ev["ends_at"]),
        )
        for ev in truth["events"]
    }

    def camera_event(o: Observation) -> str | None:
        for eid, (cam, cat, s, e) in spans.items():
            if cam == o.source_id and cat == o.category and s <= o.observed_at <= e + slack:
                return eid
        return None

    about: dict[str, Counter[str]] = {}
    unrelated = set(truth["unrelated_ticket_ids"])
    for tid, iid in incident_of_ticket.items():
        if tid not in unrelated:
            about.setdefault(iid, Counter())[event_of_ticket.get(tid, "?")] += 1
    for o, iid in camera_obs:
        about.setdefault(iid, Counter())[camera_event(o) or "?"] += 1
    for st in sim.tickets:
        if st.event_id is None or st.keyword is not None:
            continue  # only reports that say their problem in other words
        evidence = about.get(incident_of_ticket.get(st.ticket.ticket_id, ""), Counter())
        real = [e for e in evidence if e != "?"]
        if evidence.total() <= 1:
            q.paraphrases["alone"] += 1
        elif max(real, key=lambda e: (evidence[e], e)) == st.event_id:
            q.paraphrases["joined_right"] += 1
        else:
            q.paraphrases["joined_wrong"] += 1
            iid = incident_of_ticket[st.ticket.ticket_id]
            others = [
                o.ticket.text
                for o in sim.tickets
                if o is not st and incident_of_ticket.get(o.ticket.ticket_id) == iid
            ]
            q.wrong_joins.append("\n    ".join([f"seed {seed}: {st.ticket.text}", *others]))
    incidents_of_event: dict[str, set[str]] = {}
    for iid, counts in about.items():
        q.incidents += 1
        real = [e for e in counts if e != "?"]
        if len(real) > 1:
            q.merged += 1
        if real:
            top = max(real, key=lambda e: (counts[e], e))
            if counts[top] * 2 > sum(counts.values()):
                q.true_incidents += 1
            incidents_of_event.setdefault(top, set()).add(iid)

    first_report: dict[str, datetime] = {}
    for st in sim.tickets:
        if st.event_id is not None:
            at = st.ticket.received_at
            first_report[st.event_id] = min(first_report.get(st.event_id, at), at)
    for ev in sim.scenario.events:
        firsts = [first_report[ev.id]] if ev.id in first_report else []
        if ev.camera_id:
            firsts.append(ev.starts_at)
        if not firsts:
            continue
        q.events_with_evidence += 1
        found = incidents_of_event.get(ev.id, set())
        if found:
            q.events_found += 1
            q.extra_incidents += len(found) - 1
            opened = min(created_at[i] for i in found)
            q.delays_s.append(max(0.0, (opened - min(firsts)).total_seconds()))

    facts = {
        i.id: IncidentFacts(i.category, i.district, route(city, i.category, i.district).department)
        for i in fuser.incidents.values()
    }
    camera_seen = [(o.source_id, o.category, o.observed_at) for o, _ in camera_obs]
    report = score_against_truth(truth, incident_of_ticket, facts, camera_seen)
    q.truth_problems = report.problems
    q.incidents_of_event = incidents_of_event
    q.stats["unclassified_incidents"] = sum(
        1 for i in fuser.incidents.values() if i.category == UNCLASSIFIED
    )
    return q


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--events", type=int, default=None, help="events per run (default: config)")
    ap.add_argument("--miss", type=float, default=0.2, help="share of true boxes dropped")
    ap.add_argument("--fp", type=float, default=0.02, help="false boxes per frame")
    ap.add_argument(
        "--persistence",
        default=None,
        help="K,N,M: override the default rule's open_k, window_n, clear_m (e.g. 1,1,1: none)",
    )
    ap.add_argument(
        "--paraphrase",
        type=float,
        default=0.0,
        help="share of an event's reports written without a category keyword",
    )
    ap.add_argument(
        "--similarity",
        type=float,
        default=None,
        help="paraphrase join threshold (default: incidents.paraphrase_similarity, off)",
    )
    ap.add_argument(
        "--matcher",
        choices=("encoder", "ngram"),
        default=None,
        help="how the join reads words (default: incidents.paraphrase_matcher)",
    )
    ap.add_argument(
        "--show-wrong",
        action="store_true",
        help="print each paraphrase joined to another event's incident, with that incident's reports",
    )
    args = ap.parse_args(argv)
    settings, city = load_all()
    if args.matcher is not None:
        settings = settings.model_copy(
            update={
                "incidents": settings.incidents.model_copy(
                    update={"paraphrase_matcher": args.matcher}
                )
            }
        )
    # one matcher for every seed: the encoder's clause cache is kept (fuser.load clears the rest)
    encoder = settings.incidents.paraphrase_matcher == "encoder"
    matcher = (EncoderMatcher if encoder else ParaphraseMatcher).for_city(city)
    if args.similarity is not None:
        settings = settings.model_copy(
            update={
                "incidents": settings.incidents.model_copy(
                    update={"paraphrase_similarity": args.similarity}
                )
            }
        )
    if args.persistence:
        k, n, m = (int(x) for x in args.persistence.split(","))
        default = settings.rules.default.model_copy(
            update={"open_k": k, "window_n": n, "clear_m": m}
        )
        settings = settings.model_copy(
            update={"rules": settings.rules.model_copy(update={"default": default})}
        )
    runs = [
        evaluate(
            settings,
            city,
            seed,
            args.events,
            args.miss,
            args.fp,
            paraphrase=args.paraphrase,
            matcher=matcher,
        )
        for seed in range(args.seeds)
    ]
    delays = [d for r in runs for d in r.delays_s]
    pooled = RunQuality(
        seed=-1,
        incidents=sum(r.incidents for r in runs),
        true_incidents=sum(r.true_incidents for r in runs),
        merged=sum(r.merged for r in runs),
        events_with_evidence=sum(r.events_with_evidence for r in runs),
        events_found=sum(r.events_found for r in runs),
        extra_incidents=sum(r.extra_incidents for r in runs),
    )
    print(
        f"seeds 0..{args.seeds - 1}, events/run {args.events or settings.simulator.events}, "
        f"miss {args.miss}, false boxes/frame {args.fp}, "
        f"persistence K,N,M {args.persistence or 'from config'}, "
        f"paraphrased reports {args.paraphrase}, "
        f"paraphrase join {settings.incidents.paraphrase_similarity or 'off'} "
        f"({settings.incidents.paraphrase_matcher})\n"
    )
    print("| metric | value |\n| --- | --- |")
    print(f"| incidents (excl. unrelated reports) | {pooled.incidents} |")
    print(f"| precision | {pooled.precision:.3f} |")
    print(
        f"| recall (events with evidence) | {pooled.recall:.3f} ({pooled.events_found}/{pooled.events_with_evidence}) |"
    )
    print(f"| duplicate rate (extra incidents per found event) | {pooled.duplicate_rate:.3f} |")
    print(f"| incidents merging two real events | {pooled.merged} |")
    if delays:
        print(
            f"| median time from first evidence to incident | {statistics.median(delays):.0f} s |"
        )
        print(f"| 90th percentile | {float(np.percentile(delays, 90)):.0f} s |")
    para: Counter[str] = Counter()
    for r in runs:
        para.update(r.paraphrases)
    if para:
        print(
            f"| paraphrased reports: joined their event / another event / alone | "
            f"{para['joined_right']} / {para['joined_wrong']} / {para['alone']} |"
        )
    if args.show_wrong:
        print("\nParaphrases joined to another event's incident (then that incident's reports):")
        for r in runs:
            for w in r.wrong_joins:
                print(f"  {w}")
    problems = sum(len(r.truth_problems) for r in runs)
    print(f"| ticket ground-truth problems (core/evaluation.py) | {problems} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
