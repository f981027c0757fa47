"""Letters about one specific problem grouped, then ranked as hot issues.

Two letters are about the same problem when they name the same specific place or organisation
(`core.hot_entities`, not two different cities) *and* say similar things, or when they say
nearly the same thing in any case (a paraphrase without a name the rules catch, or an English
letter). Similarity is the cosine of character 2-3-gram TF-IDF vectors (scikit-learn) of the
letters with their names and district codes masked, so it measures the matter, not the place;
character n-grams read Chinese without a word segmenter and English alike. Groups come from
average-linkage agglomerative clustering over those pairs only: average linkage, unlike single
linkage, does not chain "noise at estate X" to "parking at estate X" to "parking at estate Y".
Groups of one place with alike centroids are then rejoined, and letters naming no place join the
group they are most like.

Thresholds (docs/QUALITY.md, "Hot issues from residents' letters", with the measurements behind
them): a group's average similarity must reach 1.5x the file's 99th-percentile pair similarity
(the cosine scale depends on letter length and corpus size); 0.5 joins without a shared name;
centroids 0.25 apart rejoin one place's groups, 0.3 joins unnamed letters; near-identical copies
(>= 0.9) are one voice.

Memory is quadratic in distinct letters (4,300 letters: 0.86 GB peak, ~10 s of CPU); `max_letters`
refuses more with a clear error rather than swapping."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer

from citybrain.core.hot_entities import generic_cutoff, place_codes, specific_entities
from citybrain.core.hot_issues import HotIssue, Letter, hotness, matter_of, place_of, title_of
from citybrain.text.errors import RouterError

_NORM = re.compile(r"[\s\W_]+")
_CODES = re.compile(r"[A-Z]\d{0,2}\s?[市区县省州]|[\u4e00-\u9fff]{2,3}省(?=[\u4e00-\u9fff])")


@dataclass(frozen=True)
class GroupingOptions:
    link_scale: float = 1.5
    link_floor: float = 0.03
    link_ceiling: float = 0.25
    paraphrase: float = 0.5
    copy: float = 0.9
    merge: float = 0.25
    attach: float = 0.3
    min_residents: int = 2
    max_letters: int = 15_000


def find_hot_issues(
    letters: Sequence[Letter], options: GroupingOptions | None = None, top: int | None = None
) -> list[HotIssue]:
    """Hot issues, hottest first; groups with fewer than `min_residents` voices are left out."""
    opt = options or GroupingOptions()
    texts, members = _distinct_texts(letters)
    if len(texts) > opt.max_letters:
        raise RouterError(
            f"{len(texts)} distinct letters: more than {opt.max_letters} would need more memory "
            "than grouping should take; split the file by period or district"
        )
    if not texts:
        return []
    raw_entities = [specific_entities(t) for t in texts]
    sim = _similarity([_masked(t, e) for t, e in zip(texts, raw_entities, strict=True)])
    entities = _common_removed(raw_entities, texts)
    cities = [_city(t) for t in texts]
    labels = _cluster(sim, entities, cities, opt)
    groups: dict[int, list[int]] = {}
    for u, lab in enumerate(labels):
        groups.setdefault(int(lab), []).append(u)
    groups = _merge_same_place(groups, sim, entities, opt.merge, opt.attach)
    groups = _attach_unnamed(groups, sim, entities, cities, opt.attach)
    times_all = [x.at for x in letters if x.at is not None]
    reference = max(times_all) if times_all else None
    issues = []
    for us in groups.values():
        issue = _issue(us, texts, members, letters, sim, entities, reference, opt)
        if issue is not None:
            issues.append(issue)
    issues.sort(key=lambda i: (-i.hotness, -i.count, i.ids[0]))
    ranked = [
        HotIssue(r, i.hotness, i.title, i.place, i.time_range, i.count, i.residents, i.support,
                 i.ids)
        for r, i in enumerate(issues[: top if top else None], start=1)
    ]  # fmt: skip
    return ranked


def _distinct_texts(letters: Sequence[Letter]) -> tuple[list[str], list[list[int]]]:
    """Each distinct text once (spacing and punctuation ignored), with the letters that sent it."""
    index: dict[str, int] = {}
    texts: list[str] = []
    members: list[list[int]] = []
    for i, x in enumerate(letters):
        key = _NORM.sub("", x.text).lower()
        if not key:
            continue
        if key not in index:
            index[key] = len(texts)
            texts.append(x.text)
            members.append([])
        members[index[key]].append(i)
    return texts, members


def _similarity(texts: list[str]) -> np.ndarray:
    vec = TfidfVectorizer(
        analyzer="char",
        ngram_range=(2, 3),
        min_df=2 if len(texts) >= 20 else 1,  # an n-gram in one letter only dilutes the norm
        max_df=0.5 if len(texts) >= 20 else 1.0,  # in a handful, a shared n-gram is the point
        sublinear_tf=True,
        dtype=np.float32,
    )
    try:
        x = vec.fit_transform(texts)
    except ValueError:  # nothing but one-character texts: no n-gram to compare
        return np.eye(len(texts), dtype=np.float32)
    sim = np.asarray((x @ x.T).toarray(), dtype=np.float32)
    np.fill_diagonal(sim, 1.0)
    return sim


def _masked(text: str, entities: set[str]) -> str:
    """The text without its names and district codes: what is left says what the matter is, so
    letters about one estate do not look alike merely for naming it."""
    for e in sorted(entities, key=len, reverse=True):
        text = text.replace(e, " ")
    return _CODES.sub(" ", text)


def _common_removed(raw: list[set[str]], texts: list[str]) -> list[set[str]]:
    """Names that are common words here: in too many letters, or used across cities.

    "公积金中心" in letters from K市, C市 and J6县 is three offices, not one place; a name whose
    letters (those naming a city) mostly share one city may be one place."""
    df = Counter(e for s in raw for e in s)
    cut = generic_cutoff(len(raw))
    cities = [_city(t) for t in texts]
    by_city: dict[str, Counter[str]] = {}
    for s, city in zip(raw, cities, strict=True):
        if city is not None:
            for e in s:
                by_city.setdefault(e, Counter())[city] += 1
    spread = {
        e for e, c in by_city.items() if c.total() >= 3 and c.most_common(1)[0][1] * 2 < c.total()
    }
    return [{e for e in s if df[e] <= cut and e not in spread} for s in raw]


def _city(text: str) -> str | None:
    """The city a letter is about: the letter of its first anonymised code ("A5区" -> "A")."""
    codes = place_codes(text)
    return codes[0][0] if codes else None


def _shared_entity(entities: list[set[str]]) -> np.ndarray:
    vocab = {e: k for k, e in enumerate(sorted({e for s in entities for e in s}))}
    rows = [i for i, s in enumerate(entities) for _ in s]
    cols = [vocab[e] for s in entities for e in s]
    m = csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(entities), len(vocab))
    )
    return np.asarray((m @ m.T).toarray() > 0)


def link_threshold(sim: np.ndarray, opt: GroupingOptions) -> float:
    """How similar letters naming the same place must be, on this corpus's own scale.

    Character n-gram cosines depend on letter length and corpus size (long letters in thousands
    score 0.02-0.1 for the same matter; short ones in a handful 0.2-0.5), so no fixed cut serves
    both. The 99th percentile of all pairs is what "unrelated" looks like here; `link_scale`
    times it, between `link_floor` and `link_ceiling`, is "the same matter"."""
    n = sim.shape[0]
    rng = np.random.default_rng(0)
    a = rng.integers(0, n, 50_000)
    b = rng.integers(0, n, 50_000)
    keep = a != b
    q = float(np.quantile(sim[a[keep], b[keep]], 0.99)) if keep.any() else 0.0
    return float(np.clip(opt.link_scale * q, opt.link_floor, opt.link_ceiling))


def _cluster(
    sim: np.ndarray, entities: list[set[str]], cities: list[str | None], opt: GroupingOptions
) -> np.ndarray:
    n = sim.shape[0]
    if n < 2:
        return np.zeros(n, dtype=int)
    # A name shared by letters about two different cities is two places ("公积金中心").
    city = np.array([c or "" for c in cities])
    same_city = (city[:, None] == city[None, :]) | (city[:, None] == "") | (city[None, :] == "")
    share = _shared_entity(entities) & same_city
    near = sim >= opt.paraphrase
    link = link_threshold(sim, opt)
    dist = np.where(share | near, 1.0 - sim, 1.0)
    dist = np.clip(dist, 0.0, 1.0).astype(np.float64)
    np.fill_diagonal(dist, 0.0)
    model = AgglomerativeClustering(
        n_clusters=None,
        metric="precomputed",
        linkage="average",
        distance_threshold=1.0 - link,
    )
    return model.fit_predict(dist)


def _dominant(us: list[int], entities: list[set[str]]) -> set[str]:
    """The names at least half the group's letters use."""
    counts = Counter(e for u in us for e in entities[u])
    return {e for e, k in counts.items() if k * 2 >= len(us)}


def _merge_same_place(
    groups: dict[int, list[int]],
    sim: np.ndarray,
    entities: list[set[str]],
    merge: float,
    attach: float,
) -> dict[int, list[int]]:
    """Join groups that name the same place and whose centroids are alike (cosine >= `merge`).

    A large issue written in many wordings can come out of average linkage as two or three
    groups; their centroids (the average wording) stay close when the matter is the same. A group
    of letters that mostly name no place (residents writing "我们小区") may be the unnamed part of
    a named issue: it joins the group it is most like, at the stricter `attach`."""
    places = {k: _dominant(us, entities) for k, us in groups.items()}
    several = [k for k, us in groups.items() if len(us) > 1]
    keys = [k for k in groups if len(groups[k]) > 1 or places[k]]
    if len(keys) < 2:
        return groups
    cos = _centroid_cosines([groups[k] for k in keys], sim)
    pos = {k: i for i, k in enumerate(keys)}
    by_place: dict[str, list[int]] = {}
    for k in keys:
        for place in places[k]:
            by_place.setdefault(place, []).append(k)
    scored: list[tuple[float, int, int]] = []
    for keys in by_place.values():
        for i, a in enumerate(keys):
            for b in keys[i + 1 :]:
                if (c := float(cos[pos[a], pos[b]])) >= merge:
                    scored.append((c, a, b))
    placed = {k for keys in by_place.values() for k in keys}
    for a in several:
        if a in placed:
            continue
        row = np.array([cos[pos[a], pos[b]] if b != a else -1.0 for b in several])
        j = int(np.argmax(row))
        if row[j] >= attach:
            scored.append((float(row[j]), several[j], a))
    scored.sort(reverse=True)
    parent = {k: k for k in groups}

    def root(k: int) -> int:
        while parent[k] != k:
            k = parent[k]
        return k

    for _, a, b in scored:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[rb] = ra
    out: dict[int, list[int]] = {}
    for k, us in groups.items():
        out.setdefault(root(k), []).extend(us)
    return out


def _attach_unnamed(
    groups: dict[int, list[int]],
    sim: np.ndarray,
    entities: list[set[str]],
    cities: list[str | None],
    attach: float,
) -> dict[int, list[int]]:
    """A letter that names no place ("我们小区旁边的搅拌站") joins the group of several letters
    whose centroid it is most like, when that cosine reaches `attach` and it names no other city.
    Residents often leave out the estate's name; without this they are left out of its issue."""
    keys = [k for k, us in groups.items() if len(us) > 1]
    lone = [k for k, us in groups.items() if len(us) == 1 and not entities[us[0]]]
    if not keys or not lone:
        return groups
    members = _membership([groups[k] for k in keys], sim.shape[0])
    by_group = np.asarray(members @ sim)  # group x letter: summed similarity to its members
    norms = np.sqrt(np.maximum(np.asarray(members.multiply(by_group).sum(axis=1)).ravel(), 1e-12))
    sums = by_group.T
    top_city = [Counter(c for u in groups[k] if (c := cities[u])).most_common(1) for k in keys]
    out = {k: list(us) for k, us in groups.items()}
    for k in lone:
        u = groups[k][0]
        # Centroid cosine of one letter with a group: sum(S_u,group) / |sum of the group's vectors|.
        row = sums[u] / norms
        for j, top in enumerate(top_city):
            if cities[u] and top and top[0][0] != cities[u]:
                row[j] = -1.0
        j = int(np.argmax(row))
        if row[j] >= attach:
            out[keys[j]].append(u)
            del out[k]
    return out


def _membership(groups: list[list[int]], n: int) -> csr_matrix:
    rows = [g for g, us in enumerate(groups) for _ in us]
    cols = [u for us in groups for u in us]
    return csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(groups), n))


def _centroid_cosines(groups: list[list[int]], sim: np.ndarray) -> np.ndarray:
    """Cosine between the groups' centroids, from the similarity matrix alone: the centroids'
    dot product is the sum of S over the two groups' pairs (rows are unit vectors)."""
    m = _membership(groups, sim.shape[0])
    dots = np.asarray(m @ (m @ sim).T)
    norms = np.sqrt(np.maximum(np.diag(dots), 1e-12))
    return dots / norms[:, None] / norms[None, :]


def _voices(us: list[int], members: list[list[int]], letters: Sequence[Letter],
            sim: np.ndarray, copy: float) -> list[list[int]]:  # fmt: skip
    """Letters of one group split into voices: near-identical texts, or one author, are one."""
    parent = {u: u for u in us}

    def root(u: int) -> int:
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    for a_i, a in enumerate(us):
        for b in us[a_i + 1 :]:
            if sim[a, b] >= copy:
                parent[root(a)] = root(b)
    voice_of: dict[int, int] = {}
    by_author: dict[str, int] = {}
    out: list[list[int]] = []
    for u in us:
        for i in members[u]:
            author = letters[i].author
            if author is not None and author in by_author:
                v = by_author[author]
            elif author is not None:
                v = len(out)
                out.append([])
            else:
                r = root(u)
                if r not in voice_of:
                    voice_of[r] = len(out)
                    out.append([])
                v = voice_of[r]
            if author is not None:
                by_author[author] = v
            out[v].append(i)
    return out


def _issue(
    us: list[int],
    texts: list[str],
    members: list[list[int]],
    letters: Sequence[Letter],
    sim: np.ndarray,
    entities: list[set[str]],
    reference: datetime | None,
    opt: GroupingOptions,
) -> HotIssue | None:
    voices = _voices(us, members, letters, sim, opt.copy)
    if len(voices) < opt.min_residents:
        return None
    idx = sorted(i for v in voices for i in v)
    support = sum(max(letters[i].likes for i in v) for v in voices)
    times = [t for i in idx if (t := letters[i].at) is not None]
    medoid = us[int(np.argmax(sim[np.ix_(us, us)].sum(axis=1)))]
    group_texts = [texts[u] for u in us]
    place = place_of(group_texts, [entities[u] for u in us])
    title = title_of(place, matter_of(group_texts, texts[medoid]))
    return HotIssue(
        rank=0,
        hotness=hotness(len(voices), support, times, reference),
        title=title,
        place=place,
        time_range=(min(times), max(times)) if times else None,
        count=len(idx),
        residents=len(voices),
        support=support,
        ids=tuple(letters[i].id for i in idx),
    )
