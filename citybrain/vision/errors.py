"""Errors of the vision runtime: what the stage retries and what it gives up on."""

from __future__ import annotations

from citybrain.errors import CityBrainError


class UntrustedModel(CityBrainError):
    """A detector file that is a full pickle (loading it can run code), not marked trusted."""


class BackendError(CityBrainError):
    """Inference failed in a way retrying will not fix (unknown model, wrong input shape)."""


class BackendUnavailable(BackendError):
    """The backend cannot answer now (server down, overloaded, timed out): retry later."""
