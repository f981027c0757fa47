"""Large hot issues planted among real letters: does `citybrain hot-issues` keep a 50-letter
issue in many wordings together, and apart from another matter at the same estate?

    .venv/bin/python tools/hot_issues_check.py [--letters ../shared/datasets/letters_cn/letters.csv]
        [--seeds 3] [--unnamed 0.3]

Three issues are written from sentence fragments (written for this check, not real letters) and
added to the first 4,300 real letters: a mixing plant beside one estate (50 letters), restaurant
fumes under another (40) and forced parking-space sales at that same estate (15). `--unnamed` of
the planted letters say "我们小区" instead of the estate's name. Prints, per seed and issue, the
best membership F1 among the top 10 and its rank, and the seconds the grouping took.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from citybrain.core.hot_issues import Letter, clean_letters
from citybrain.text.hot_issues import find_hot_issues
from citybrain.text.hot_issues_io import read_letters

ISSUES = {
    "plant": ("丽景新城", "A2区", 50,
        ["{c}{p}附近搅拌站噪音扰民", "{p}旁边的混凝土搅拌站太吵了", "请求关停{p}边上的搅拌站",
         "{p}小区居民饱受搅拌站粉尘困扰", "{c}{p}搅拌站夜间施工"],
        ["我是{c}{p}小区的业主，", "小区旁边的搅拌站日夜生产，", "大型罐车进进出出，噪音很大，",
         "粉尘到处飞，窗户都不敢开，", "晚上十二点以后还在作业，", "老人小孩无法休息，",
         "多次向环保部门反映都没有结果，", "搅拌站离居民楼只有几十米，"]),
    "fumes": ("枫林苑", "A5区", 40,
        ["{c}{p}临街餐馆油烟扰民", "{p}楼下烧烤店油烟噪音", "{p}底商餐饮排烟问题",
         "请整治{c}{p}的餐饮油烟"],
        ["我家住在{p}，", "楼下几家餐馆的油烟直接往上排，", "夜宵店经营到凌晨两点，",
         "食客喧哗声音很大，", "家里到处是油烟味，", "物业说管不了，", "城管来了也没用，"]),
    "parking": ("枫林苑", "A5区", 15,
        ["{p}停车位捆绑销售", "{c}{p}开发商强卖车位", "{p}车位只卖不租"],
        ["开发商要求买房必须买车位，", "车位价格高达二十万，", "不买车位就不给办房产证，",
         "小区车位只售不租，", "这是违法的捆绑销售，"]),
}  # fmt: skip
OPENERS = ["尊敬的领导：您好！", "市长您好，", "", "各位领导：", "你好！"]
CLOSERS = ["希望有关部门尽快处理。", "恳请领导重视，谢谢！", "请尽快给我们一个答复。", "盼复。", ""]


def planted(rnd: random.Random, unnamed: float) -> dict[str, list[Letter]]:
    out: dict[str, list[Letter]] = {}
    for tag, (place, code, n, subjects, body) in ISSUES.items():
        letters = []
        for k in range(n):
            p, c = (place, code) if rnd.random() >= unnamed else ("我们小区", "")
            subject = rnd.choice(subjects).format(p=p, c=c)
            text = "".join(rnd.sample(body, rnd.randint(2, 4))).format(p=p, c=c)
            at = datetime(2019, 11, 2) + timedelta(days=rnd.randint(0, 80))
            letter = f"{subject}。{rnd.choice(OPENERS)}{text}{rnd.choice(CLOSERS)}"
            letters.append(Letter(f"{tag}{k}", letter, at, rnd.randint(0, 5)))
        out[tag] = letters
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--letters", type=Path, default=Path("../shared/datasets/letters_cn/letters.csv")
    )
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--unnamed", type=float, default=0.3)
    args = ap.parse_args()
    rows, _ = read_letters(args.letters, ["id", "subject", "detail", "created"])
    real, _ = clean_letters(
        rows[:4300], "id", ["subject", "detail"], "created", None, None, datetime.now()
    )
    real = [Letter(f"r{i}", x.text, x.at, x.likes) for i, x in enumerate(real)]
    print("| seed | issue | letters | best F1 in top 10 | rank | seconds |")
    print("|---:|---|---:|---:|---:|---:|")
    for seed in range(args.seeds):
        plants = planted(random.Random(seed), args.unnamed)
        t0 = time.perf_counter()
        issues = find_hot_issues(real + [x for v in plants.values() for x in v], top=10)
        seconds = time.perf_counter() - t0
        for tag, letters in plants.items():
            truth = {x.id for x in letters}
            f1, rank = max(
                ((2 * len(set(i.ids) & truth) / (len(i.ids) + len(truth)), i.rank) for i in issues),
                default=(0.0, 0),
            )
            print(f"| {seed} | {tag} | {len(truth)} | {f1:.2f} | {rank} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
