"""The city as data: districts, cameras and zones, taxonomy, departments and responsibilities.

These frozen models are both the schema of the files in config/city/ and the types the core
works on, so a loaded city is validated once and never re-checked downstream.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from shapely.geometry import LineString, Point, Polygon
from shapely.strtree import STRtree

Severity = Literal["low", "medium", "high", "critical"]
WILDCARD = "*"
UNCLASSIFIED = "unclassified"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class District(_Frozen):
    id: str = Field(title="District id", pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(title="English name")
    name_zh: str = Field(title="Chinese name")
    polygon: tuple[tuple[float, float], ...] = Field(
        title="Boundary as (lon, lat) pairs", min_length=3
    )

    @cached_property
    def shape(self) -> Polygon:
        return Polygon(self.polygon)


class Zone(_Frozen):
    """An image-space region of one camera where some categories count (e.g. a no-parking kerb)."""

    id: str = Field(title="Zone id, unique within its camera")
    name: str = Field(title="Human-readable name")
    categories: tuple[str, ...] = Field(title="Categories this zone watches", min_length=1)
    polygon: tuple[tuple[float, float], ...] = Field(
        title="Polygon in normalised image coordinates (x, y in 0..1)", min_length=3
    )
    footprint: Literal["bottom_center", "center", "overlap"] = Field(
        "bottom_center",
        title="What of a box must be in the zone: where it stands (bottom centre, for objects on "
        "the ground), its centre, or a share of its area (`min_overlap`, for spread-out things "
        "like water)",
    )
    min_overlap: float = Field(
        0.5, gt=0, le=1, title="Share of a box's area inside the zone, with footprint: overlap"
    )

    @model_validator(mode="after")
    def _normalised(self) -> Zone:
        for x, y in self.polygon:
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"zone {self.id}: point ({x}, {y}) is outside 0..1")
        return self


class Camera(_Frozen):
    id: str = Field(
        title="Camera id (64 characters at most, as frames and alerts carry it)",
        pattern=r"^[A-Za-z0-9_-]+$",
        max_length=64,
    )
    name: str = Field(title="Where it looks, in words")
    lon: float = Field(title="Longitude")
    lat: float = Field(title="Latitude")
    district: str = Field(title="District id")
    fps: float = Field(default=1.0, gt=0, title="Frames per second the camera publishes")
    zones: tuple[Zone, ...] = Field(default=(), title="Image-space zones")
    view: tuple[tuple[float, float], ...] = Field(
        default=(),
        title="Ground the camera sees, as (lon, lat) points; empty: only its position counts",
    )
    stream: str | None = Field(
        None,
        title="Where `citybrain cameras` reads it: rtsp(s)://, http(s):// (MJPEG or HLS) or a "
        "video file path; never with credentials in it (see `credentials`)",
    )
    credentials: str | None = Field(
        None,
        pattern=r"^[A-Z0-9_]+$",
        title="Name of the stream's credentials in the environment or a mounted secret "
        "(cameras.credentials_env_prefix + NAME + _USERNAME / _PASSWORD)",
    )
    sample_fps: float | None = Field(
        None, gt=0, le=30, title="Frames per second sampled from the stream (cameras.sample_fps)"
    )
    motion_gate: bool | None = Field(
        None, title="Gate frames by scene change (cameras.motion.enabled when unset)"
    )
    heartbeat_s: float | None = Field(
        None, gt=0, title="Send a frame at least this often (cameras.motion.heartbeat_s)"
    )

    @model_validator(mode="after")
    def _view_is_a_polygon(self) -> Camera:
        if self.view and len(self.view) < 3:
            raise ValueError(f"camera {self.id}: a view needs at least 3 points")
        return self

    @model_validator(mode="after")
    def _no_credentials_in_stream(self) -> Camera:
        if self.stream is not None and _has_userinfo(self.stream):
            raise ValueError(
                f"camera {self.id}: the stream URL carries credentials; name them with "
                "`credentials` and put them in the environment or a secret"
            )
        return self


def _has_userinfo(stream: str) -> bool:
    """Whether a URL names a user or password (`scheme://user:pass@host/...`)."""
    scheme, sep, rest = stream.partition("://")
    if not sep or not scheme.isalpha():
        return False
    authority = rest.split("/", 1)[0]
    return "@" in authority


class Category(_Frozen):
    id: str = Field(
        title="Category id; a path (`utilities/water_leak`) for a taxonomy with levels",
        pattern=r"^[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*)*$",
    )
    name: str = Field(title="English name")
    name_zh: str = Field(title="Chinese name")
    severity: Severity = Field(title="Default severity")
    sla_minutes: int = Field(gt=0, title="Default time to resolve, minutes")
    detector_classes: tuple[str, ...] = Field(default=(), title="Detector classes that show it")
    clip_prompts: tuple[str, ...] = Field(default=(), title="Zero-shot scene prompts")
    keywords_en: tuple[str, ...] = Field(default=(), title="English ticket keywords")
    keywords_zh: tuple[str, ...] = Field(default=(), title="Chinese ticket keywords")


class Department(_Frozen):
    id: str = Field(title="Department id", pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(title="English name")
    name_zh: str = Field(title="Chinese name")
    aliases: tuple[str, ...] = Field(
        default=(),
        title="Other names citizens use for it (水务, the water department): the routing guard "
        "knows a report that asks for it by any of them",
    )
    webhook: str | None = Field(default=None, title="URL that receives dispatches (optional)")


class Responsibility(_Frozen):
    """One line of the responsibility list: who handles `category` in `district` ('*' = any)."""

    category: str = Field(title="Category id or '*'")
    district: str = Field(default=WILDCARD, title="District id or '*'")
    department: str = Field(title="Department id")


class Street(_Frozen):
    name: str = Field(title="English name")
    name_zh: str = Field(title="Chinese name")
    aliases: tuple[str, ...] = Field(default=(), title="Other spellings people use")
    line: tuple[tuple[float, float], ...] = Field(title="Centre line as (lon, lat)", min_length=2)

    @cached_property
    def shape(self) -> LineString:
        return LineString(self.line)


class Landmark(_Frozen):
    name: str = Field(title="English name")
    name_zh: str = Field(title="Chinese name")
    aliases: tuple[str, ...] = Field(default=(), title="Other spellings people use")
    lon: float = Field(title="Longitude")
    lat: float = Field(title="Latitude")


class City(_Frozen):
    name: str = Field(title="City name")
    name_zh: str = Field(default="", title="Chinese city name (empty: the name)")
    districts: tuple[District, ...] = Field(min_length=1)
    cameras: tuple[Camera, ...] = ()
    categories: tuple[Category, ...] = Field(min_length=1)
    departments: tuple[Department, ...] = Field(min_length=1)
    responsibilities: tuple[Responsibility, ...] = Field(min_length=1)
    triage_department: str = Field(title="Receives what no responsibility line covers")
    streets: tuple[Street, ...] = ()
    landmarks: tuple[Landmark, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> City:
        problems = reference_problems(self)
        if problems:
            raise ValueError(
                "; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems)
            )
        return self

    # Lookups. cached_property works on frozen pydantic models because it writes __dict__.
    @cached_property
    def district_by_id(self) -> dict[str, District]:
        return {d.id: d for d in self.districts}

    @cached_property
    def camera_by_id(self) -> dict[str, Camera]:
        return {c.id: c for c in self.cameras}

    @cached_property
    def category_by_id(self) -> dict[str, Category]:
        return {c.id: c for c in self.categories}

    @cached_property
    def department_by_id(self) -> dict[str, Department]:
        return {d.id: d for d in self.departments}

    @cached_property
    def district_index(self) -> STRtree:
        return STRtree([d.shape for d in self.districts])

    def district_at(self, lon: float, lat: float) -> District | None:
        """The district containing the point (boundary counts), or None outside the city."""
        pt = Point(lon, lat)
        for i in self.district_index.query(pt, predicate="intersects"):
            return self.districts[int(i)]
        return None


Problem = tuple[tuple[str | int, ...], str]


def reference_problems(city: City) -> list[Problem]:
    """Every dangling or duplicate id, as (location in the City tree, message); all, not first."""
    problems: list[Problem] = []
    sections: tuple[tuple[str, tuple[District | Camera | Category | Department, ...]], ...] = (
        ("districts", city.districts),
        ("cameras", city.cameras),
        ("categories", city.categories),
        ("departments", city.departments),
    )
    for section, items in sections:
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.id in seen:
                problems.append(((section, i, "id"), f"duplicate id {item.id!r}"))
            seen.add(item.id)
    districts = {d.id for d in city.districts}
    categories = {c.id for c in city.categories}
    departments = {d.id for d in city.departments}
    for i, cam in enumerate(city.cameras):
        if cam.district not in districts:
            problems.append((("cameras", i, "district"), f"unknown district {cam.district!r}"))
        for j, zone in enumerate(cam.zones):
            problems += [
                (("cameras", i, "zones", j, "categories"), f"unknown category {c!r}")
                for c in zone.categories
                if c not in categories
            ]
    for i, r in enumerate(city.responsibilities):
        loc = ("responsibilities", i)
        if r.category != WILDCARD and r.category not in categories:
            problems.append(((*loc, "category"), f"unknown category {r.category!r}"))
        if r.district != WILDCARD and r.district not in districts:
            problems.append(((*loc, "district"), f"unknown district {r.district!r}"))
        if r.department not in departments:
            problems.append(((*loc, "department"), f"unknown department {r.department!r}"))
    if city.triage_department not in departments:
        problems.append((("triage_department",), f"unknown department {city.triage_department!r}"))
    return problems
