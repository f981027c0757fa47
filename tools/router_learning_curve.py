"""What a city can expect from the router with a short history: accuracy, macro-F1 and the
share auto-dispatched at >= 95 % precision when trained on 200, 500, 1,000, 2,000, 4,000 and
all rows of a real history, each scored on the same fixed validation split (text/splits),
beside the router without its domain prior and the plain baseline (character 1-3-gram TF-IDF
and a class-balanced LinearSVC) trained on the same rows.

    .venv/bin/python tools/router_learning_curve.py letters [--json OUT]   # ../shared letters_cn
    .venv/bin/python tools/router_learning_curve.py la311 [--json OUT]     # ../shared LA 311 2018

Coverage here is measured on the validation split itself (the lowest threshold at which
everything above is >= 95 % right there), so it is what a perfectly set threshold would give;
docs/QUALITY.md reports separately how the router's own cross-validated threshold holds on
unseen letters. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from citybrain.core.coverage import coverage_curve, operating_point
from citybrain.core.history import Columns, Example, clean_history
from citybrain.core.metrics import score
from citybrain.text.history_io import read_history
from citybrain.text.router import Model, RouterOptions
from citybrain.text.splits import fixed_split

SHARED = Path("../shared/datasets")
DATA = {
    "letters": (SHARED / "letters_cn/letters.csv", Columns("subject+detail", "label")),
    "la311": (SHARED / "la311/la311_2018_sample.csv", Columns("RequestType", "AssignTo", "NC")),
}
SIZES = (200, 500, 1000, 2000, 4000)


def _baseline(train: Sequence[Example], val: Sequence[Example]) -> tuple[list[str], None]:
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    x = vec.fit_transform([e.text for e in train])
    clf = LinearSVC(class_weight="balanced", random_state=0).fit(x, [e.label for e in train])
    return [str(p) for p in clf.predict(vec.transform([e.text for e in val]))], None


def _router(
    train: Sequence[Example], val: Sequence[Example], opts: RouterOptions
) -> tuple[list[str], np.ndarray]:
    model = Model(opts)
    model.fit(train)
    proba = model.proba([e.text for e in val], [e.district for e in val])
    best = proba.argmax(axis=1)
    return [model.labels[i] for i in best], proba[np.arange(len(best)), best]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("data", choices=sorted(DATA))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    path, cols = DATA[args.data]
    examples, report = clean_history(read_history(path, cols), cols)
    train_idx, val_idx = fixed_split([e.label for e in examples])
    order = np.random.default_rng(0).permutation(train_idx).tolist()  # nested subsets
    val = [examples[i] for i in val_idx]
    truth = [e.label for e in val]
    sizes = [n for n in SIZES if n < len(order)] + [len(order)]
    variants = {
        "router": lambda tr: _router(tr, val, RouterOptions()),
        "router, no prior": lambda tr: _router(tr, val, RouterOptions(prior=None)),
        "baseline": lambda tr: _baseline(tr, val),
    }
    rows = []
    print(f"{args.data}: {report.kept} rows, validation split {len(val)}")
    print("\n| rows trained on | model | accuracy | macro-F1 | coverage at 95 % |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for n in sizes:
        train = [examples[i] for i in order[:n]]
        counts = Counter(e.label for e in train)  # as `router train` drops labels seen once
        train = [e for e in train if counts[e.label] >= 2]
        if len({e.label for e in train}) < 2:
            continue
        for name, run in variants.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pred, conf = run(train)
            s = score(truth, pred)
            cov = None
            if conf is not None:
                correct = [t == p for t, p in zip(truth, pred, strict=True)]
                cov = operating_point(coverage_curve(conf.tolist(), correct), 0.95).coverage
            rows.append({"rows": n, "model": name, "accuracy": round(s.accuracy, 4),
                         "macro_f1": round(s.macro_f1, 4),
                         "coverage_95": None if cov is None else round(cov, 4)})  # fmt: skip
            shown = "—" if cov is None else f"{cov:.1%}"
            print(f"| {n} | {name} | {s.accuracy:.3f} | {s.macro_f1:.3f} | {shown} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"data": args.data, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
