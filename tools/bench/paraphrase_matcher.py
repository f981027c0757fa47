"""Tickets/s of the paraphrase join's matchers (score against a candidate incident, then hold
the report), the sentence encoder against the n-gram TF-IDF in the same run.

    .venv/bin/python tools/bench/paraphrase_matcher.py [--tickets 400] [--held 60]

Tickets are the simulator's (crowded days of seeds 0, 1, ..., 30 % paraphrased, both
languages). Each ticket is scored against 4 held reports and its category's words, then held;
the oldest report is dropped past `--held`, as fusion drops a resolved incident's. The encoder starts with an empty
clause cache (its model load is timed apart); repeated frames and greetings then hit it.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from citybrain.city_loading import load_all
from citybrain.core.fusion import category_key
from citybrain.sim import simulate
from citybrain.sim.tickets import SimTicket
from citybrain.text.paraphrase import ParaphraseMatcher
from citybrain.text.paraphrase_encoder import EncoderMatcher, use_multilingual


def run(
    m: EncoderMatcher | ParaphraseMatcher, texts: list[str], cats: list[str], held: int
) -> float:
    t0 = time.perf_counter()
    keys: list[str] = []
    for i, (text, cat) in enumerate(zip(texts, cats, strict=True)):
        m.score(text, [*keys[-4:], category_key(cat)])
        m.add(str(i), text)
        keys.append(str(i))
        if len(keys) > held:
            m.drop(keys.pop(0))
    return len(texts) / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=400)
    ap.add_argument("--held", type=int, default=60)
    args = ap.parse_args(argv)
    settings, city = load_all()
    tickets: list[SimTicket] = []
    seed = 0
    while len(tickets) < args.tickets:  # simulated days, one seed each, until enough
        sim_settings = settings.simulator.model_copy(
            update={"seed": seed, "events": 30, "paraphrase_share": 0.3}
        )
        tickets += simulate(city, sim_settings, datetime(2026, 11, 22, 8, 0, tzinfo=UTC)).tickets
        seed += 1
    tickets = tickets[: args.tickets]
    texts = [t.ticket.text for t in tickets]
    cats = [city.categories[i % len(city.categories)].id for i in range(len(tickets))]
    ngram = run(ParaphraseMatcher.for_city(city), texts, cats, args.held)
    t0 = time.perf_counter()
    encoder = use_multilingual()
    encoder.encode(["warm up"])
    load_s = time.perf_counter() - t0
    enc = run(EncoderMatcher.for_city(city, encoder), texts, cats, args.held)
    print(f"{len(texts)} tickets, {args.held} held; encoder model load {load_s:.1f} s\n")
    print("| matcher | tickets/s (score + add) | vs n-gram |\n| --- | ---: | ---: |")
    print(f"| n-gram TF-IDF | {ngram:.0f} | 1.00 |")
    print(f"| sentence encoder | {enc:.0f} | {enc / ngram:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
