"""Where a camera's stream is and how it is opened: credentials joined in at open time only.

The YAML names a stream without credentials and, with `credentials: NAME`, where they are:
the environment variables `<prefix>NAME_USERNAME` and `<prefix>NAME_PASSWORD` (a Kubernetes
Secret mounted as environment). They are percent-encoded into the URL handed to FFmpeg and
nowhere else: logs, errors and alerts use `public`, the URL without them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import av
import av.logging

from citybrain.cameras.errors import MissingCredentials, StreamError

NETWORK_SCHEMES = ("rtsp", "rtsps", "http", "https")
# FFmpeg's own log stays off (PyAV's default, made sure of here): some of its messages repeat
# the URL it was given, credentials and all.
av.logging.set_level(None)


@dataclass(frozen=True)
class StreamSource:
    """One camera's stream: `public` for messages, `url()` for FFmpeg only."""

    camera: str
    public: str
    credentials: str | None = None
    env_prefix: str = "CITYBRAIN_CAMERA_"
    environ: Mapping[str, str] = field(
        default_factory=lambda: os.environ, repr=False, compare=False
    )

    @property
    def is_file(self) -> bool:
        scheme = urlsplit(self.public).scheme.lower()
        return scheme not in NETWORK_SCHEMES

    def secrets(self) -> tuple[str, ...]:
        """The credential strings (raw and encoded), for scrubbing any text that leaves."""
        if self.credentials is None:
            return ()
        found = [self.environ.get(self._var(k), "") for k in ("USERNAME", "PASSWORD")]
        return tuple(s for v in found if v for s in {v, quote(v, safe="")})

    def url(self) -> str:
        """The URL FFmpeg opens, with the credentials percent-encoded into it."""
        if self.credentials is None or self.is_file:
            return self.public
        user = self.environ.get(self._var("USERNAME"))
        password = self.environ.get(self._var("PASSWORD"))
        if user is None:
            raise MissingCredentials(
                f"camera {self.camera}: credentials {self.credentials!r} named, but "
                f"{self._var('USERNAME')} is not set"
            )
        parts = urlsplit(self.public)
        userinfo = quote(user, safe="")
        if password is not None:
            userinfo += ":" + quote(password, safe="")
        return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))

    def scrub(self, text: str) -> str:
        """`text` with any credential in it replaced (for exception messages from below)."""
        for s in sorted(self.secrets(), key=len, reverse=True):
            text = text.replace(s, "***")
        return text

    def _var(self, kind: str) -> str:
        return f"{self.env_prefix}{self.credentials}_{kind}"


def open_stream(src: StreamSource, open_timeout_s: float, read_timeout_s: float) -> Any:
    """An opened PyAV container of the stream (it has a video stream), or StreamError saying
    why, without the credentials. PyAV opens each stream on its own, so a camera that never
    answers holds up only its own reader (OpenCV's FFmpeg backend opens under one lock)."""
    if src.is_file:
        path = Path(src.public.removeprefix("file://"))
        if not path.is_file():
            raise StreamError(f"no such file: {path}")
        if path.stat().st_size == 0:
            raise StreamError(f"empty file (0 bytes): {path}")
    options = {"analyzeduration": "1000000"}  # a second of stream says what it is
    if src.public.startswith("rtsp"):
        options["rtsp_transport"] = "tcp"
    began = time.monotonic()
    try:
        container = av.open(src.url(), options=options, timeout=(open_timeout_s, read_timeout_s))
    except (av.FFmpegError, OSError) as e:
        why = getattr(e, "strerror", None) or type(e).__name__
        if time.monotonic() - began >= 0.9 * open_timeout_s:
            why = f"no answer within {open_timeout_s:g} s"
        raise StreamError(f"cannot open {src.public}: {src.scrub(str(why))}") from None
    if not container.streams.video:
        container.close()
        raise StreamError(f"cannot open {src.public}: no video in it")
    return container
