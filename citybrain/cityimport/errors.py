"""Errors of the city import: a file that cannot be read at all (a row that cannot be taken is
a report line, not an error)."""

from citybrain.errors import CityBrainError


class CityImportError(CityBrainError):
    """A source file or the spec cannot be read; the message names the file (and row)."""
