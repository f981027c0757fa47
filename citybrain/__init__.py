"""citybrain: camera frames and citizen tickets in, deduplicated and routed incidents out."""

__version__ = "0.1.0"
