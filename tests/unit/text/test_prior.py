"""The domain prior: out-of-fold scores for its own training letters, integrity checks before
unpickling, and a router that learns to use it (or to ignore it) as features."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from citybrain.core.history import Example
from citybrain.text import DEFAULT_PRIOR
from citybrain.text.errors import ArtefactError
from citybrain.text.grams import counts, grams
from citybrain.text.prior import DomainPrior, load_prior
from citybrain.text.router import Model, RouterOptions

TOPICS = {
    "water": ["自来水管破裂漏水", "小区停水三天", "水压太低洗澡困难", "水管爆裂路面积水"],
    "roads": ["路面坑洼不平", "人行道砖块松动", "道路塌陷有大坑", "马路井盖缺失危险"],
    "school": ["学校乱收补课费", "幼儿园学位不足", "学生午餐质量差", "教师有偿家教"],
}


def _letters(n: int = 6) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for label, phrases in TOPICS.items():
        for i in range(n):
            for p in phrases:
                texts.append(f"{p}，第{i}次反映，{'请尽快处理' if i % 2 else '希望解决'}")
                labels.append(label)
    return texts, labels


def test_grams_read_han_as_uni_and_bigrams_and_latin_in_word() -> None:
    g = grams("小区停水 Water 12345")
    assert {"小", "区", "小区", "停水"} <= set(g)
    assert {" wa", "ter", "r "} <= set(g) and not any(ch.isdigit() for t in g for ch in t)


def test_the_prior_answers_its_own_training_letters_out_of_fold(tmp_path: Path) -> None:
    texts, labels = _letters()
    prior = DomainPrior.train(texts, labels, folds=3)
    fitted = prior.clf.decision_function(prior.tfidf.transform(counts(texts[:1])))
    assert not np.allclose(prior.scores(texts[:1]), fitted)  # not what the full model says
    new = "水管漏水好几天了"
    assert prior.domains[int(prior.scores([new]).argmax())] == "water"
    prior.save(tmp_path / "p", {"data": "test"})
    again = load_prior(tmp_path / "p")
    assert np.allclose(again.scores(texts[:5]), prior.scores(texts[:5]))


def test_a_damaged_or_foreign_prior_is_refused_before_unpickling(tmp_path: Path) -> None:
    texts, labels = _letters(2)
    DomainPrior.train(texts, labels, folds=2).save(tmp_path / "p")
    blob = tmp_path / "p" / "prior.joblib"
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ArtefactError, match="does not match"):
        load_prior(tmp_path / "p")
    with pytest.raises(ArtefactError, match="no readable domain prior"):
        load_prior(tmp_path / "missing")
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    (tmp_path / "p" / "manifest.json").write_text(json.dumps({**manifest, "kind": "router"}))
    with pytest.raises(ArtefactError, match="does not describe"):
        load_prior(tmp_path / "p")


def test_the_shipped_prior_loads_and_names_the_seven_domains() -> None:
    prior = load_prior(Path(DEFAULT_PRIOR))
    assert len(prior.domains) == 7 and "城乡建设" in prior.domains
    assert (
        prior.domains[int(prior.scores(["学校违规组织学生补课，每人收取补课费"]).argmax())]
        == "教育文体"
    )


def test_a_router_with_the_prior_trains_on_labels_that_are_not_the_priors(
    tmp_path: Path,
) -> None:
    texts, labels = _letters()
    copy = tmp_path / "prior"
    shutil.copytree(DEFAULT_PRIOR, copy)
    model = Model(RouterOptions(prior=str(copy)))
    x = model.fit([Example(t, lab) for t, lab in zip(texts, labels, strict=True)])
    assert x.shape[1] == model.features.tfidf.n_features + 7
    proba = model.proba(["学校食堂饭菜太差", "马路上有个大坑"], [None, None])
    assert [model.labels[i] for i in proba.argmax(axis=1)] == ["school", "roads"]
