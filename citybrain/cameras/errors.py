"""Errors of the camera gateway: a stream that cannot be opened or read (retried with back-off)."""

from __future__ import annotations

from citybrain.errors import CityBrainError


class StreamError(CityBrainError):
    """A stream cannot be opened or read now; the message never carries credentials."""


class MissingCredentials(StreamError):
    """A camera names credentials that the environment does not hold."""
