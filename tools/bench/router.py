"""Ticket routing speed: the trained router against the keyword rules, in the same run.

    .venv/bin/python tools/bench/router.py [--history-seeds 100] [--tickets 5000] [--batch 500]
        [--train-rows 0] [--letters ../shared/datasets/letters_cn/letters.csv]

Trains a router on the synthetic city's history, then runs the ticket stage (validate, redact,
classify, geocode, observation) in-process over the same tickets twice: keyword rules only,
and with the router (advice with top-3 labels and 3 similar past tickets). Also times the bare
classifiers. `--train-rows N` additionally times training on an N-row history (repeated
seeds, new ids) with 5-fold cross-validation and without. `--letters CSV` gives the same
tickets the texts of real letters (subject + detail, median ~220 characters) instead of the
simulator's short ones. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from citybrain.city_loading import load_all
from citybrain.config import Settings
from citybrain.core.city import City
from citybrain.core.history import Columns
from citybrain.core.keywords import KeywordClassifier
from citybrain.core.messages import Ticket
from citybrain.replay.eval_routing import load_label_map
from citybrain.sim.labelled_tickets import write_labelled_csv
from citybrain.sim.stream import simulate
from citybrain.streams.records import InRecord
from citybrain.streams.topics import Topics
from citybrain.text.artefact import load_router
from citybrain.text.history_io import read_history
from citybrain.text.router_train import train
from pipelines.tickets import TicketStage

COLS = Columns("text", "department", "district", "created_at")
START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def tickets(settings: Settings, city: City, n: int) -> list[bytes]:
    out: list[bytes] = []
    seed = 10_000  # not in the training history
    while len(out) < n:
        sim = simulate(city, settings.simulator.model_copy(update={"seed": seed}), START)
        out += [st.ticket.model_dump_json().encode() for st in sim.tickets]
        seed += 1
    return out[:n]


def with_letters(raw: list[bytes], letters: Path) -> list[bytes]:
    """The same tickets carrying real letters' texts, cycled."""
    cols = Columns("subject+detail", "label")
    texts = [r[cols.text][:20_000] for r in read_history(letters, cols) if r[cols.text].strip()]
    out = []
    for i, r in enumerate(raw):
        t = Ticket.model_validate_json(r)
        out.append(t.model_copy(update={"text": texts[i % len(texts)]}).model_dump_json().encode())
    return out


def stage_rate(stage: TicketStage, raw: list[bytes], batch: int) -> float:
    recs = [InRecord("t", 0, i, b"k", v, {}) for i, v in enumerate(raw)]
    started = time.perf_counter()
    for i in range(0, len(recs), batch):
        stage.process(recs[i : i + batch])
    return len(recs) / (time.perf_counter() - started)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--history-seeds", type=int, default=100)
    ap.add_argument("--tickets", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--train-rows", type=int, default=0)
    ap.add_argument("--letters", type=Path, help="real letters' texts as the tickets' texts")
    args = ap.parse_args()
    settings, city = load_all(Path("config/citybrain.yaml"))
    work = Path(tempfile.mkdtemp(prefix="router-bench-"))
    hist, labels = write_labelled_csv(
        city, settings.simulator, work / "h.csv", range(args.history_seeds)
    )
    t0 = time.perf_counter()
    res = train(hist, COLS, work / "r", city, load_label_map(labels, city), folds=0)
    train_s = time.perf_counter() - t0
    raw = tickets(settings, city, args.tickets)
    if args.letters:
        raw = with_letters(raw, args.letters)
    plain = TicketStage(settings, city, Topics("b"), router=None)
    router, _ = load_router(work / "r", city, 0.2)
    routed = TicketStage(settings, city, Topics("b"), router=router)
    stage_plain = stage_rate(plain, raw, args.batch)
    stage_router = stage_rate(routed, raw, args.batch)
    texts = [Ticket.model_validate_json(r).text for r in raw]
    kw = KeywordClassifier(city)
    t0 = time.perf_counter()
    for t in texts:
        kw.classify(t)
    kw_rate = len(texts) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(0, len(texts), args.batch):
        router.advise(texts[i : i + args.batch])
    adv_rate = len(texts) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(0, len(texts), args.batch):
        router.predict(texts[i : i + args.batch])
    pred_rate = len(texts) / (time.perf_counter() - t0)
    print(f"machine: {platform.machine()}, {platform.python_version()}; history "
          f"{res.manifest.rows} rows, trained in {train_s:.1f} s (no CV); {len(texts)} tickets"
          f"{' with real letters' if args.letters else ''}, batch {args.batch}")  # fmt: skip
    print()
    print("| path | tickets/s | / keyword path |")
    print("| --- | ---: | ---: |")
    print(f"| ticket stage, keyword rules | {stage_plain:.0f} | 1.00 |")
    print(f"| ticket stage, keyword rules + router advice | {stage_router:.0f} | "
          f"{stage_router / stage_plain:.2f} |")  # fmt: skip
    print(f"| keyword classifier alone | {kw_rate:.0f} | {kw_rate / kw_rate:.2f} |")
    print(
        f"| router advise alone (top-3 + 3 similar) | {adv_rate:.0f} | {adv_rate / kw_rate:.2f} |"
    )
    print(f"| router predict alone (best label) | {pred_rate:.0f} | {pred_rate / kw_rate:.2f} |")
    if args.train_rows:
        per_seed = res.manifest.rows / args.history_seeds
        seeds = int(args.train_rows / per_seed) + 1
        big, _ = write_labelled_csv(city, settings.simulator, work / "big.csv", range(seeds))
        for folds in (0, 5):
            t0 = time.perf_counter()
            r = train(big, COLS, work / f"big{folds}", city, load_label_map(labels, city),
                      folds=folds)  # fmt: skip
            took = time.perf_counter() - t0
            print(f"\ntraining on {r.manifest.rows} rows, {folds}-fold CV: {took:.0f} s")


if __name__ == "__main__":
    main()
