"""Write the fixed training and validation splits of the real letters (text/splits.py) as two
CSV files outside the repository, for `citybrain router train` and `eval routing`.

    .venv/bin/python tools/letters_split.py /tmp [--letters ../shared/datasets/letters_cn/letters.csv]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from citybrain.text.history_io import read_history
from citybrain.text.splits import fixed_split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out", type=Path, help="folder for letters_train.csv and letters_val.csv")
    ap.add_argument(
        "--letters", type=Path, default=Path("../shared/datasets/letters_cn/letters.csv")
    )
    args = ap.parse_args()
    rows = read_history(args.letters)
    parts = dict(zip(("train", "val"), fixed_split([r["label"] for r in rows]), strict=True))
    args.out.mkdir(parents=True, exist_ok=True)
    for name, idx in parts.items():
        path = args.out / f"letters_{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows[i] for i in idx)
        print(f"{path}: {len(idx)} letters")


if __name__ == "__main__":
    main()
