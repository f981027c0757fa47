"""Named places where simulated events happen: street intersections and landmarks.

Events are only ever put where citizens have a name for the spot, so every ticket can name
it the way people do and the truth point is exactly what a gazetteer lookup would give.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shapely.geometry import Point

from citybrain.core.city import Camera, City, Street
from citybrain.core.geo import metres_between

_SAME_POINT_M = 15.0  # a camera this close to an intersection stands on it


@dataclass(frozen=True)
class Place:
    """A spot with a name: `streets` holds two gazetteer street names, or `landmark` one name."""

    key: str
    kind: Literal["intersection", "landmark"]
    lon: float
    lat: float
    name_en: str
    name_zh: str
    streets: tuple[str, ...] = ()
    landmark: str | None = None


def _runs_north_south(street: Street) -> bool:
    minx, miny, maxx, maxy = street.shape.bounds
    return (maxy - miny) > (maxx - minx)


def intersections(city: City) -> tuple[Place, ...]:
    """Every point where two gazetteer streets cross, named north-south street first."""
    out: list[Place] = []
    for i, a in enumerate(city.streets):
        for b in city.streets[i + 1 :]:
            crossing = a.shape.intersection(b.shape)
            if not isinstance(crossing, Point):
                continue
            first, second = (b, a) if _runs_north_south(b) and not _runs_north_south(a) else (a, b)
            out.append(
                Place(
                    key=f"x:{first.name}|{second.name}",
                    kind="intersection",
                    lon=round(crossing.x, 7),
                    lat=round(crossing.y, 7),
                    name_en=f"{first.name} and {second.name}",
                    name_zh=f"{first.name_zh}与{second.name_zh}交叉口",
                    streets=(first.name, second.name),
                )
            )
    return tuple(out)


def landmarks(city: City) -> tuple[Place, ...]:
    return tuple(
        Place(
            key=f"l:{lm.name}",
            kind="landmark",
            lon=lm.lon,
            lat=lm.lat,
            name_en=lm.name,
            name_zh=lm.name_zh,
            landmark=lm.name,
        )
        for lm in city.landmarks
    )


def named_places(city: City) -> tuple[Place, ...]:
    """Intersections and landmarks that lie inside the city."""
    return tuple(
        p for p in (*intersections(city), *landmarks(city)) if city.district_at(p.lon, p.lat)
    )


def camera_places(city: City) -> dict[str, Place]:
    """Camera id -> the intersection it stands on; cameras off every intersection are left out."""
    crossings = intersections(city)
    out: dict[str, Place] = {}
    for cam in city.cameras:
        best = _nearest(cam, crossings)
        if best is not None and city.district_at(best.lon, best.lat):
            out[cam.id] = best
    return out


def _nearest(cam: Camera, places: tuple[Place, ...]) -> Place | None:
    best: tuple[float, Place] | None = None
    for p in places:
        d = metres_between(cam.lon, cam.lat, p.lon, p.lat)
        if d <= _SAME_POINT_M and (best is None or d < best[0]):
            best = (d, p)
    return best[1] if best else None
