"""How alike a paraphrase and its report look to fusion's paraphrase join, on real letters.

    .venv/bin/python tools/paraphrase_threshold.py [--letters ../shared/datasets/letters_cn/letters.csv]
        [--negatives 10] [--matcher encoder|ngram]

A letter's subject is its writer's own short restatement of the body: the pair is one problem
in two wordings, as a report a resident files and a paraphrase another resident files about it.
On the fixed validation split (text/splits.py), the matcher holds every letter's body (its
document frequencies are those of the 556 bodies, as fusion's are those of the reports it
holds); each subject is scored against its own body (same problem) and against `--negatives`
bodies of other letters of the same domain (another problem of the same kind: harder than what
fusion meets, where the place and the window must match too). Prints, per threshold, the share
of same-problem pairs at or above it (joins) and of other-problem pairs (wrong joins).
The encoder matcher reads each text's matter clause by the sample city's taxonomy, without
the category margin (the letters' domains are not the city's categories).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from citybrain.city_loading import load_all
from citybrain.text.history_io import read_history
from citybrain.text.paraphrase import ParaphraseMatcher
from citybrain.text.paraphrase_encoder import EncoderMatcher
from citybrain.text.splits import fixed_split

THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--letters", type=Path, default=Path("../shared/datasets/letters_cn/letters.csv")
    )
    ap.add_argument("--negatives", type=int, default=10)
    ap.add_argument("--matcher", choices=("encoder", "ngram"), default="ngram")
    args = ap.parse_args(argv)
    rows = read_history(args.letters)
    _, val = fixed_split([r["label"] for r in rows])
    letters = [rows[i] for i in val if rows[i]["subject"].strip() and rows[i]["detail"].strip()]
    m: EncoderMatcher | ParaphraseMatcher = ParaphraseMatcher()
    if args.matcher == "encoder":
        _, city = load_all()
        m = EncoderMatcher.for_city(city, margin=False)
    for i, r in enumerate(letters):
        m.add(str(i), r["detail"])
    rng = random.Random(0)
    by_label: dict[str, list[int]] = {}
    for i, r in enumerate(letters):
        by_label.setdefault(r["label"], []).append(i)
    same, other = [], []
    for i, r in enumerate(letters):
        same.append(m.score(r["subject"], [str(i)]))
        pool = [j for j in by_label[r["label"]] if j != i]
        for j in rng.sample(pool, min(args.negatives, len(pool))):
            other.append(m.score(r["subject"], [str(j)]))
    print(
        f"{len(letters)} validation letters; {len(same)} same-problem pairs, "
        f"{len(other)} other-problem pairs of the same domain\n"
    )
    print("| threshold | same problem joined | other problem joined |\n| ---: | ---: | ---: |")
    for t in THRESHOLDS:
        a = sum(s >= t for s in same) / len(same)
        b = sum(s >= t for s in other) / len(other)
        print(f"| {t:.2f} | {a:.3f} | {b:.4f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
