"""Deterministic ids: the same input always gives the same id, so re-processing is idempotent."""

import hashlib


def stable_id(prefix: str, *parts: object) -> str:
    digest = hashlib.sha1("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:16]
    return f"{prefix}-{digest}"
