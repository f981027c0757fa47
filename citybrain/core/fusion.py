"""Fuse observations from cameras and tickets into incidents, one per real-world problem.

Pure and deterministic: time is the observations' own (event time, via a watermark), never
the wall clock, so replaying a stream gives the same incidents. Re-applying an observation
already in an incident is a no-op, which is what makes at-least-once delivery safe.

Evidence joins an incident of the same or a compatible category (config), in the same geo cell
(the cell keys the Kafka partition, so the answer never depends on how partitions are spread
over workers), within the fusion radius (or the same district when one side has no point) and
the time window. A ticket with no category (its words match no category and the router is
unsure) joins an open incident only where `paraphrase_similarity` is set (off by default) and
it says what the incident's reports say (scored by an injected `TextMatcher`) in the same
place and window: a paraphrase of a known problem, not a new one. Lifecycle: open → updated →
resolved (every camera event behind it cleared, a dispatcher, or idle timeout) → reopened when
evidence returns within `reopen_s`. Evidence observed while an incident was open that arrives
after it resolved (a source that fell behind) joins it and leaves it resolved, so the grouping
does not depend on which source came first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from citybrain.core import ids
from citybrain.core.cells import cell_of
from citybrain.core.city import UNCLASSIFIED, Category, City
from citybrain.core.fusion_index import CandidateIndex
from citybrain.core.geo import distance_m
from citybrain.core.incident import SEVERITIES, Incident
from citybrain.core.messages import Observation
from citybrain.core.params import FusionParams
from citybrain.core.views import CameraViews


@dataclass(frozen=True)
class FusionResult:
    incident: Incident | None
    created: bool = False
    changed: bool = False
    # why nothing changed: duplicate, clear_unmatched; or reopened, resolved, late, paraphrase
    note: str = ""


class TextMatcher(Protocol):
    """Report texts held by observation id, and how alike a new text is to some of them
    (`citybrain.text.paraphrase.ParaphraseMatcher`)."""

    def add(self, key: str, text: str) -> None: ...
    def drop(self, key: str) -> None: ...
    def clear(self) -> None: ...
    def score(self, text: str, keys: Iterable[str]) -> float: ...


@dataclass
class Fuser:
    city: City
    settings: FusionParams
    incidents: dict[str, Incident] = field(default_factory=dict)
    watermark: datetime | None = None
    matcher: TextMatcher | None = None  # None: tickets without a category never join

    def __post_init__(self) -> None:
        # observation id -> incident id ("" for a clear that matched nothing): the replay guard.
        # Entries leave with their incident (expire), so it is bounded by what can still change.
        self._seen: dict[str, str] = {}
        self._unmatched: dict[str, tuple[datetime, str]] = {}  # the "" entries: time, cell
        self._compatible = _compatibility(self.settings.compatible)
        self._cell_marks: dict[str, datetime] = {}  # newest evidence per cell (lateness)
        self._views = CameraViews(self.city)
        self._index = CandidateIndex(self.city, self.settings.fusion_radius_m, self._views)
        self._categories = tuple(c.id for c in self.city.categories)
        self.load(list(self.incidents.values()))

    def load(self, states: list[Incident], texts: Mapping[str, str] | None = None) -> None:
        """Replace the in-memory state with what the store holds (start-up, rebalance);
        `texts`: the report texts of their ticket evidence, by observation id."""
        self.incidents = {}
        self._index.clear()
        if self.matcher is not None:
            self.matcher.clear()
            for cat in self.city.categories:  # what an incident seen only by cameras is about
                self.matcher.add(category_key(cat.id), _category_words(cat))
        for st in states:
            self.put(self._with_cell(st))
            for e in st.evidence_ids:
                if self.matcher is not None and texts and e in texts:
                    self.matcher.add(e, texts[e])
        self._seen = {e: s.id for s in states for e in s.evidence_ids}
        self._unmatched = {}
        self._cell_marks = {}
        for st in self.incidents.values():
            self._advance(st.cell, st.updated_at)
        newest = max((s.updated_at for s in states), default=None)
        if newest is not None and (self.watermark is None or newest > self.watermark):
            self.watermark = newest

    def put(self, inc: Incident) -> None:
        """Store (or replace) an incident's state, keeping the candidate index current."""
        self.drop(inc.id)
        self.incidents[inc.id] = inc
        self._index.add(inc)

    def adopt(self, inc: Incident) -> None:
        """Take in an incident's state from outside (the store): its evidence counts as seen."""
        self.put(self._with_cell(inc))
        for e in inc.evidence_ids:
            self._seen[e] = inc.id

    def drop(self, incident_id: str) -> None:
        old = self.incidents.pop(incident_id, None)
        if old is not None:
            self._index.remove(old)

    def cell(self, obs: Observation) -> str:
        """The cell its producer computed (and keyed it by); computed here only for
        observations made without one."""
        if obs.cell is not None:
            return obs.cell
        return cell_of(self.city, obs.location, obs.district, self.settings.partition_resolution)

    def is_late(self, obs: Observation) -> bool:
        """Older than its cell's newest evidence by more than max_lateness_s (and not already
        applied). Per cell, because a cell is one partition: a worker that holds a backlogged
        partition beside a current one must not call the backlog late."""
        mark = self._cell_marks.get(self.cell(obs))
        if obs.id in self._seen or mark is None:
            return False
        return obs.observed_at < mark - timedelta(seconds=self.settings.max_lateness_s)

    def _advance(self, cell: str, at: datetime) -> None:
        mark = self._cell_marks.get(cell)
        if mark is None or at > mark:
            self._cell_marks[cell] = at

    def apply(self, obs: Observation) -> FusionResult:
        if obs.id in self._seen:
            return FusionResult(self.incidents.get(self._seen[obs.id]), note="duplicate")
        if self.watermark is None or obs.observed_at > self.watermark:
            self.watermark = obs.observed_at
        cell = self.cell(obs)
        self._advance(cell, obs.observed_at)
        if obs.rule_state == "cleared":
            return self._clear(obs, cell)
        created, note = False, ""
        target = self._match(obs, cell, open_=True)
        if target is not None:
            inc = self._attach(target, obs)
            note = "paraphrase" if obs.category == UNCLASSIFIED else ""
        else:
            target = self._match(obs, cell, open_=False)
            if target is not None and _observed_while_open(target, obs):
                inc, note = self._attach_late(target, obs), "late"
            elif target is not None:
                inc = self._attach(self._reopen(target), obs)
                note = "reopened"
            else:
                inc, created = self._open(obs, cell), True
        self.put(inc)
        self._seen[obs.id] = inc.id
        if self.matcher is not None and obs.source == "ticket" and obs.text:
            self.matcher.add(obs.id, obs.text)
        return FusionResult(inc, created=created, changed=True, note=note)

    def resolve(self, incident_id: str, at: datetime, by: str) -> Incident | None:
        """A dispatcher (or other authority) closes an incident; None if unknown or closed."""
        inc = self.incidents.get(incident_id)
        if inc is None or not inc.is_open:
            return None
        done = replace(inc, status="resolved", resolved_at=at, resolved_by=by, camera_events=())
        self.put(done)
        return done

    def expire(self) -> list[Incident]:
        """Resolve incidents with no evidence for idle_resolve_s before the watermark, and
        forget resolved ones that can no longer reopen."""
        if self.watermark is None:
            return []
        cutoff = self.watermark - timedelta(seconds=self.settings.idle_resolve_s)
        forget = self.watermark - timedelta(seconds=self.settings.reopen_s)
        done = []
        for inc in list(self.incidents.values()):
            if inc.is_open and inc.updated_at < cutoff:
                resolved = replace(
                    inc, status="resolved", resolved_at=self.watermark, resolved_by="timeout"
                )
                self.put(resolved)
                done.append(resolved)
            elif (
                not inc.is_open
                and inc.resolved_at is not None
                and inc.resolved_at < forget
                and self._past_lateness(inc.updated_at, inc.cell)
            ):
                self.forget(inc.id)
        for oid in [o for o, (at, c) in self._unmatched.items() if self._past_lateness(at, c)]:
            del self._unmatched[oid]
            self._seen.pop(oid, None)
        return done

    def _past_lateness(self, at: datetime, cell: str) -> bool:
        """Evidence this old is rejected as late in its cell, so it needs no replay guard."""
        mark = self._cell_marks.get(cell)
        return mark is not None and at < mark - timedelta(seconds=self.settings.max_lateness_s)

    def forget(self, incident_id: str) -> None:
        """Drop an incident that can no longer change, with its entries in the replay guard.
        Only called once all its evidence is past the lateness bound of its cell, so a replay
        of that evidence is dead-lettered as late, never fused a second time."""
        inc = self.incidents.get(incident_id)
        if inc is None:
            return
        for e in inc.evidence_ids:
            if self._seen.get(e) == incident_id:
                del self._seen[e]
            if self.matcher is not None:
                self.matcher.drop(e)
        self.drop(incident_id)

    @property
    def seen_count(self) -> int:
        """Observations remembered as applied (what bounded memory is measured by)."""
        return len(self._seen)

    def _clear(self, obs: Observation, cell: str) -> FusionResult:
        """A camera event cleared: drop it from its incident; the last one resolves it."""
        self._seen[obs.id] = ""
        self._unmatched[obs.id] = (obs.observed_at, cell)
        for iid in sorted(self._index.with_rule(obs.rule_id or "")):
            inc = self.incidents[iid]
            if inc.is_open and obs.rule_id in inc.camera_events and inc.cell == cell:
                left = tuple(r for r in inc.camera_events if r != obs.rule_id)
                new = replace(
                    inc,
                    camera_events=left,
                    evidence_ids=(*inc.evidence_ids, obs.id),
                    updated_at=max(inc.updated_at, obs.observed_at),
                )
                note = "updated"
                if not left:
                    new = replace(
                        new, status="resolved", resolved_at=obs.observed_at, resolved_by="cameras"
                    )
                    note = "resolved"
                self.put(new)
                self._seen[obs.id] = inc.id
                self._unmatched.pop(obs.id, None)
                return FusionResult(new, changed=True, note=note)
        return FusionResult(None, note="clear_unmatched")

    def _with_cell(self, s: Incident) -> Incident:
        """Fill the cell of incidents stored without one, and forget open camera events of
        cameras deleted from the config (they can never clear; timeout resolves instead)."""
        kept = tuple(r for r in s.camera_events if _camera_of(r) in self.city.camera_by_id)
        if kept != s.camera_events:
            s = replace(s, camera_events=kept)
        if s.cell:
            return s
        return replace(
            s, cell=cell_of(self.city, s.location, s.district, self.settings.partition_resolution)
        )

    def _related(self, a: str, b: str) -> bool:
        return a == b or b in self._compatible.get(a, ())

    def _match(self, obs: Observation, cell: str, open_: bool) -> Incident | None:
        if obs.category == UNCLASSIFIED:
            # triaged on its own unless it says what an open incident's reports say
            return self._paraphrased(obs, cell) if open_ else None
        window = timedelta(seconds=self.settings.window_s)
        reopen = timedelta(seconds=self.settings.reopen_s)
        best: tuple[float, str, Incident] | None = None
        categories = {obs.category, *self._compatible.get(obs.category, ())}
        for iid in self._index.near(obs, categories):
            inc = self.incidents[iid]
            if inc.is_open != open_ or inc.cell != cell:
                continue
            if not self._related(inc.category, obs.category):
                continue
            if open_:
                if not inc.opened_at - window <= obs.observed_at <= inc.updated_at + window:
                    continue
            elif inc.resolved_at is None or not (
                # seen while it was open (but arriving after it resolved), or soon after
                inc.opened_at - window <= obs.observed_at <= inc.resolved_at + reopen
            ):
                continue
            score = self._closeness(inc, obs)
            if score is None:
                continue
            score += 0.0 if inc.category == obs.category else 0.5  # prefer the same category
            if best is None or (score, inc.id) < best[:2]:
                best = (score, inc.id, inc)
        return best[2] if best else None

    def _paraphrased(self, obs: Observation, cell: str) -> Incident | None:
        """The open incident of a known category, in the same place and window, whose reports
        `obs` is most alike, if any is alike enough (ties: the incident id)."""
        threshold = self.settings.paraphrase_similarity
        if self.matcher is None or threshold is None or not obs.text:
            return None
        window = timedelta(seconds=self.settings.window_s)
        best: tuple[float, str, Incident] | None = None
        for iid in self._index.near(obs, self._categories):
            inc = self.incidents[iid]
            if not inc.is_open or inc.cell != cell or inc.category == UNCLASSIFIED:
                continue
            if not inc.opened_at - window <= obs.observed_at <= inc.updated_at + window:
                continue
            if self._closeness(inc, obs) is None:
                continue
            score = self.matcher.score(obs.text, (*inc.evidence_ids, category_key(inc.category)))
            if score >= threshold and (best is None or (-score, inc.id) < best[:2]):
                best = (-score, inc.id, inc)
        return best[2] if best else None

    def _closeness(self, inc: Incident, obs: Observation) -> float | None:
        """Metres-like score (lower is closer) or None when the two cannot be the same place.
        A camera's view counts as where its evidence is: the observation's own camera, and
        every camera already behind the incident."""
        if obs.location is not None and inc.location is not None:
            gaps: list[float | None] = [distance_m(obs.location, inc.location)]
            if obs.source == "camera":
                gaps.append(self._views.distance(obs.source_id, inc.location))
            gaps += [self._views.distance(cam, obs.location) for cam in inc.cameras]
            d = min(g for g in gaps if g is not None)
            return d if d <= self.settings.fusion_radius_m else None
        if obs.district is None or inc.district != obs.district:
            return None
        # One side is only known to the district: same district is the best we can say.
        return self.settings.fusion_radius_m + 1

    def _open(self, obs: Observation, cell: str) -> Incident:
        inc = Incident(
            id=ids.incident_id(obs.category, obs.id),
            category=obs.category,
            district=obs.district,
            location=obs.location,
            opened_at=obs.observed_at,
            updated_at=obs.observed_at,
            evidence_ids=(obs.id,),
            camera_count=int(obs.source == "camera"),
            ticket_count=int(obs.source == "ticket"),
            cell=cell,
            camera_events=(obs.rule_id,) if obs.rule_id else (),
            cameras=(obs.source_id,) if obs.source == "camera" else (),
        )
        return replace(inc, severity=self._severity(inc))

    def _reopen(self, inc: Incident) -> Incident:
        return replace(
            inc, status="reopened", resolved_at=None, resolved_by=None, reopened=inc.reopened + 1
        )

    def _attach_late(self, inc: Incident, obs: Observation) -> Incident:
        """Evidence of a resolved incident's own lifetime that arrived after it resolved (a
        ticket queue or a camera job that fell behind): one more piece of evidence for it,
        not a reopening and not a second incident of the same event."""
        late = self._attach(inc, obs)
        return replace(late, status=inc.status, camera_events=inc.camera_events)

    def _attach(self, inc: Incident, obs: Observation) -> Incident:
        events = inc.camera_events
        if obs.rule_id and obs.rule_id not in events:
            events = tuple(sorted((*events, obs.rule_id)))
        inc = replace(
            inc,
            status="reopened" if inc.status == "reopened" else "updated",
            location=inc.location or obs.location,
            district=inc.district or obs.district,
            opened_at=min(inc.opened_at, obs.observed_at),
            updated_at=max(inc.updated_at, obs.observed_at),
            evidence_ids=(*inc.evidence_ids, obs.id),
            camera_count=inc.camera_count + int(obs.source == "camera"),
            ticket_count=inc.ticket_count + int(obs.source == "ticket"),
            camera_events=events,
            cameras=_with(inc.cameras, obs.source_id) if obs.source == "camera" else inc.cameras,
        )
        return replace(inc, severity=self._severity(inc))

    def _severity(self, inc: Incident) -> str:
        """Category default, raised one level by corroboration (both sources) and one more at
        each configured evidence count."""
        cat = self.city.category_by_id.get(inc.category)
        level = SEVERITIES.index(cat.severity) if cat else 1
        n = inc.ticket_count + inc.camera_count  # a camera clearing is no evidence of more
        bonus = sum(n >= step for step in self.settings.severity_evidence_steps)
        if inc.camera_count and inc.ticket_count:
            bonus = max(bonus, 1)
        return SEVERITIES[min(level + bonus, len(SEVERITIES) - 1)]


def category_key(category: str) -> str:
    """The key under which a category's own words are held in the `TextMatcher`."""
    return f"category:{category}"


def _category_words(cat: Category) -> str:
    """A category's own words, compared like one more report of each of its incidents: a
    camera-only incident has no report, and a paraphrase may still use them ("damaged asphalt")."""
    return " ".join((cat.name, cat.name_zh, *cat.keywords_en, *cat.keywords_zh, *cat.clip_prompts))


def _with(ids: tuple[str, ...], new: str) -> tuple[str, ...]:
    return ids if new in ids else tuple(sorted((*ids, new)))


def _camera_of(rule_id: str) -> str:
    """The camera of a rule id `category@camera/zone`."""
    return rule_id.partition("@")[2].partition("/")[0]


def _compatibility(table: dict[str, list[str]]) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for a, others in table.items():
        for b in others:
            out.setdefault(a, set()).add(b)
            out.setdefault(b, set()).add(a)
    return {k: frozenset(v) for k, v in out.items()}


def _observed_while_open(inc: Incident, obs: Observation) -> bool:
    return inc.resolved_at is not None and obs.observed_at < inc.resolved_at
