"""Errors of the engineering tools: each means "stop, nothing was written", never a partial result."""

from citybrain.errors import CityBrainError


class ArchiveError(CityBrainError):
    """An archive is missing, incomplete, of an unknown version, or fails its checksums."""


class EmptySelection(CityBrainError):
    """The chosen topics, time window or cameras hold no records."""


class NamespaceNotEmpty(CityBrainError):
    """A replay target namespace already has data (pass force to produce into it anyway)."""


class RunError(CityBrainError):
    """A run export is missing or malformed."""


class LabelError(CityBrainError):
    """A labelled dataset is malformed or names classes the mapping does not know."""
