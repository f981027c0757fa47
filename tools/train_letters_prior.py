"""Train the routers' domain prior (citybrain/text/prior.py) on real Chinese citizen letters.

    .venv/bin/python tools/train_letters_prior.py [--letters ../shared/datasets/letters_cn/letters.csv]
        [--out models/text/letters-domains]

The letters are read, repaired and redacted as any history is (core/history), the fixed
validation split (text/splits: 10 %, stratified, seed 0) is set aside and never trained on,
and the prior is fitted on the rest with out-of-fold scores for its own letters. It prints
its accuracy on the validation split; the model card is models/text/README.md.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from sklearn.metrics import accuracy_score, f1_score

from citybrain.core.history import Columns, clean_history
from citybrain.text import DEFAULT_PRIOR
from citybrain.text.history_io import read_history
from citybrain.text.prior import DomainPrior
from citybrain.text.splits import fixed_split

LETTERS = Path("../shared/datasets/letters_cn/letters.csv")
COLUMNS = Columns(text="subject+detail", label="label")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--letters", type=Path, default=LETTERS)
    ap.add_argument("--out", type=Path, default=Path(DEFAULT_PRIOR))
    args = ap.parse_args()
    examples, report = clean_history(read_history(args.letters, COLUMNS), COLUMNS)
    print("\n".join(report.lines()))
    train_idx, val_idx = fixed_split([e.label for e in examples])
    train = [examples[i] for i in train_idx]
    val = [examples[i] for i in val_idx]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prior = DomainPrior.train([e.text for e in train], [e.label for e in train])
    best = prior.scores([e.text for e in val]).argmax(axis=1)
    pred = [prior.domains[i] for i in best]
    truth = [e.label for e in val]
    acc, f1 = accuracy_score(truth, pred), f1_score(truth, pred, average="macro")
    manifest = prior.save(
        args.out,
        {
            "data": "letters_cn (TipDM Cup 2020 task C, attachment 2; no licence stated)",
            "split": "fixed validation split held out: 10 %, stratified by label, seed 0",
            "train_rows": len(train),
            "validation_rows": len(val),
            "validation_accuracy": round(float(acc), 4),
            "validation_macro_f1": round(float(f1), 4),
        },
    )
    print(
        f"prior alone on the validation split ({len(val)} letters): accuracy {acc:.3f}, "
        f"macro-F1 {f1:.3f}; {manifest['features']} features -> {args.out}"
    )


if __name__ == "__main__":
    main()
