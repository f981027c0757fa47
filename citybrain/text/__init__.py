"""Ticket text: the learned router, its domain prior, near-duplicates and history files."""

DEFAULT_PRIOR = "models/text/letters-domains"  # the shipped domain prior (models/text/README.md)
