"""The words of a ticket that name a place of the city (landmark, street, district), with the
districts each could mean: what the triage view shows a dispatcher who must place a ticket
the geocoder could not."""

from __future__ import annotations

from dataclasses import dataclass

from citybrain.core.city import City


@dataclass(frozen=True)
class PlaceWord:
    word: str  # as written in the ticket
    kind: str  # landmark | street | district
    name: str  # the gazetteer's English name
    name_zh: str
    districts: tuple[str, ...]  # district ids it lies in (a street may cross several)


def place_words(city: City, text: str) -> list[PlaceWord]:
    """Every gazetteer name found in `text` (English case-insensitively), in order of first
    mention; a name inside a longer one found already (西城 in 西城区) is not repeated."""
    lowered = text.lower()
    found: list[tuple[int, PlaceWord]] = []
    taken: list[tuple[int, int]] = []

    def add(
        names: tuple[str, ...], kind: str, en: str, zh: str, districts: tuple[str, ...]
    ) -> None:
        for n in sorted(names, key=len, reverse=True):
            pos = lowered.find(n.lower()) if n.isascii() else text.find(n)
            if not n or pos < 0 or any(a <= pos < b for a, b in taken):
                continue
            taken.append((pos, pos + len(n)))
            found.append((pos, PlaceWord(text[pos : pos + len(n)], kind, en, zh, districts)))
            return

    for lm in city.landmarks:
        at = city.district_at(lm.lon, lm.lat)
        where = (at.id,) if at else ()
        add((lm.name, lm.name_zh, *lm.aliases), "landmark", lm.name, lm.name_zh, where)
    for st in city.streets:
        crossed = tuple(d.id for d in city.districts if d.shape.intersects(st.shape))
        add((st.name, st.name_zh, *st.aliases), "street", st.name, st.name_zh, crossed)
    for d in city.districts:
        names = (d.name, d.name_zh, d.name_zh.rstrip("区"))
        add(names, "district", d.name, d.name_zh, (d.id,))
    return [w for _, w in sorted(found, key=lambda x: x[0])]
