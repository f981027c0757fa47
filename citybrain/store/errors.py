"""The store's errors."""

from citybrain.errors import CityBrainError


class SchemaError(CityBrainError):
    """The database's schema does not fit this code (behind, newer, or unrecognised); the
    message says what to run."""
