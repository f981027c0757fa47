"""The web server: dashboard, dispatcher inbox, REST and Open311 APIs, and who may use them."""

from typing import Literal

from limits import parse as parse_limit
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Role = Literal["operator", "dispatcher", "admin"]
Language = Literal["zh", "en"]


class MapSettings(BaseModel):
    """The dashboard map. The city's districts, streets and landmarks are always drawn as
    vector layers from the city config, so the map works with no network at all; a basemap
    under them is for deployments that have a tile server."""

    model_config = ConfigDict(extra="forbid")

    style: str = Field(
        "",
        title="Raster basemap tile URL template ({z}/{x}/{y}), e.g. the city's own tile "
        "server; empty = no basemap, the vector layers only (offline)",
        pattern=r"^(|https://[^\s\"'<>]+\{z\}[^\s\"'<>]*)$",
    )
    attribution: str = Field("", max_length=300, title="Credit line the basemap requires")
    max_zoom: int = Field(19, ge=10, le=22, title="Deepest zoom the map allows")

    @property
    def tile_origin(self) -> str:
        """The basemap's scheme://host, which the page's CSP must allow images from."""
        if not self.style:
            return ""
        scheme, rest = self.style.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}"


class WebUser(BaseModel):
    """One account. Passwords are stored only as argon2 hashes (`citybrain hash-password`)."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", title="Login name")
    role: Role = Field(title="operator reads all; dispatcher acts for one department; admin all")
    department: str | None = Field(None, title="Department id (dispatchers only)")
    password_hash: str = Field(pattern=r"^\$argon2", title="argon2 hash of the password")

    @model_validator(mode="after")
    def _department(self) -> "WebUser":
        if self.role == "dispatcher" and not self.department:
            raise ValueError(f"user {self.username}: a dispatcher needs a department")
        return self


class WebSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", title="Listen address")
    default_language: Language = Field(
        "en",
        title="Language of the pages when neither the user's choice nor the browser's "
        "Accept-Language names one the web speaks (zh, en)",
    )
    map: MapSettings = Field(default_factory=lambda: MapSettings(), title="The dashboard map")
    demo_mode: bool = Field(
        False,
        title="Demo on this machine: the documented demo accounts sign in, /metrics and "
        "keyless Open311 are open to anyone, cookies lose Secure. Off, the server refuses to "
        "start with a demo account or a known or short session_secret (`citybrain demo` "
        "turns it on for itself)",
    )
    forwarded_allow_ips: tuple[str, ...] = Field(
        ("127.0.0.1",),
        title="Proxies (addresses or CIDR networks) whose X-Forwarded-For/-Proto name the "
        "client; from any other peer the headers are ignored and the peer is the client",
    )
    port: int = Field(8080, ge=0, le=65535, title="Listen port")
    users: tuple[WebUser, ...] = Field((), title="Accounts that may sign in")
    session_secret: str = Field(
        "",
        title="Key that signs session cookies and tokens, at least 32 characters; empty = "
        "random per process (set it, e.g. via CITYBRAIN_WEB__SESSION_SECRET, when running "
        "several web servers)",
    )
    session_max_age_s: int = Field(8 * 3600, ge=1, title="A session expires after this long")
    secure_cookies: bool | None = Field(
        None,
        title="Send the session cookie over HTTPS only; unset = yes unless demo_mode",
    )
    live_interval_s: float = Field(1.0, gt=0, title="Seconds between live dashboard updates")
    map_max_markers: int = Field(
        500, ge=1, title="Newest open incidents drawn on the map; the rest are counted only"
    )
    page_size: int = Field(50, ge=1, le=500, title="Rows per page in lists")
    sla_near_fraction: float = Field(
        0.25,
        gt=0,
        lt=1,
        title="An incident is near its deadline when this share of its SLA is left",
    )
    camera_stale_s: float = Field(
        60.0, gt=0, title="A camera with no frame processed for this long shows as stale"
    )
    snapshot_blur: Literal["background", "people"] = Field(
        "background",
        title="background: blur all but the evidence boxes; people: only people and plates "
        "(hidden in both modes)",
    )
    person_classes: tuple[str, ...] = Field(
        ("person", "pedestrian", "cyclist"),
        title="Detector classes that are people (always blurred)",
    )
    plate_classes: tuple[str, ...] = Field(
        ("vehicle", "car", "truck", "bus", "motorcycle"),
        title="Detector classes that carry number plates (their lower half is always blurred)",
    )
    open311_api_keys: tuple[str, ...] = Field(
        (),
        title="Keys an Open311 client must send (api_key) to submit requests; empty = no key "
        "needed in demo_mode, intake closed otherwise",
    )
    max_body_bytes: int = Field(
        64 * 1024, ge=1024, title="Larger request bodies are refused (413) before they are read"
    )
    open311_rate_per_client: str = Field(
        "10/minute;100/hour", title="Open311 submissions per client address (limits notation)"
    )
    open311_rate_per_key: str = Field(
        "600/minute", title="Open311 submissions per api_key (limits notation)"
    )
    open311_read_rate_per_client: str = Field(
        "60/minute;1000/hour",
        title="Open311 reads (GET requests) per client address, or per api_key for keyed callers",
    )
    similar_rate_per_user: str = Field(
        "30/minute", title="Look-alike frame searches (/api/evidence/…/similar) per user"
    )
    similar_pool: int = Field(
        2000, ge=10, le=50_000, title="Newest embedded evidence rows a look-alike search scans"
    )
    live_streams_per_user: int = Field(
        4, ge=1, title="Live feeds (/api/live) one user may hold open at once; more answer 429"
    )
    open311_public_decimals: int = Field(
        2,
        ge=0,
        le=6,
        title="Decimals of lat/long shown to callers without a key (2 ≈ 1 km); keyed callers "
        "see the point as submitted",
    )
    login_rate_per_client: str = Field(
        "20/minute;200/hour", title="Sign-in attempts (/login, /api/token) per client address"
    )
    login_rate_per_account: str = Field(
        "5/minute;30/hour", title="Failed sign-in attempts per username"
    )
    max_concurrent_hashes: int = Field(
        4, ge=1, title="Password checks at once (argon2 takes 64 MiB each); others wait or 503"
    )
    metrics_token: str = Field(
        "",
        title="Bearer token Prometheus sends for /metrics; empty = /metrics open to anyone "
        "in demo_mode, else to operator sessions only",
    )
    kafka_timeout_s: float = Field(
        5.0, gt=0, le=60, title="A request waits at most this long for Kafka to take its records"
    )
    kafka_retry_after_s: float = Field(
        15.0, gt=0, title="After Kafka failed, requests answer 503 at once for this long"
    )
    outbox_drain_s: float = Field(
        5.0,
        gt=0,
        title="How often the web sends dispatcher actions stored while Kafka was down, "
        "without waiting for the next action",
    )

    @field_validator(
        "open311_rate_per_client",
        "open311_rate_per_key",
        "open311_read_rate_per_client",
        "similar_rate_per_user",
        "login_rate_per_client",
        "login_rate_per_account",
    )
    @classmethod
    def _rate(cls, v: str) -> str:
        for part in v.split(";"):
            try:
                parse_limit(part)
            except ValueError as e:
                raise ValueError(
                    f"{v!r} is not a rate like '10/minute' or '5/minute;30/hour'"
                ) from e
        return v

    @property
    def cookies_secure(self) -> bool:
        return self.secure_cookies if self.secure_cookies is not None else not self.demo_mode
