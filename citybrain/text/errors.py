"""Errors of the ticket-text package."""

from citybrain.errors import CityBrainError


class RouterError(CityBrainError):
    """A router cannot be trained, loaded or used as asked."""


class ArtefactError(RouterError):
    """A router artefact is missing, damaged, from another format version, or names labels
    this city does not have; refused at start-up rather than routing wrongly."""
