"""Webhook signatures: HMAC-SHA256 over the timestamp and the body, per department's secret.

Headers: `X-Citybrain-Timestamp` (Unix seconds) and `X-Citybrain-Signature: v1=<hex>[,v1=<hex>]`
where each hex is HMAC-SHA256(secret, f"{timestamp}.{body}"). A receiver recomputes it with
its secret, compares in constant time and refuses timestamps older than a few minutes, so a
captured request cannot be replayed later, and a forged one never verifies. Several secrets
(new first) sign the same request while a department rotates: the receiver accepts any it
knows, then the old one is removed from `dispatch.webhook_secrets`.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Citybrain-Timestamp"
SIGNATURE_HEADER = "X-Citybrain-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    msg = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def sign(secrets: list[str], body: bytes, now: float | None = None) -> dict[str, str]:
    """The headers that sign `body` now with every one of `secrets` (none: no headers)."""
    if not secrets:
        return {}
    ts = int(time.time() if now is None else now)
    return {
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: ",".join(f"v1={signature(s, ts, body)}" for s in secrets),
    }


def verify(
    secret: str,
    body: bytes,
    timestamp: str | None,
    header: str | None,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """What a receiver checks: a fresh timestamp and a v1 signature made with `secret`."""
    if not timestamp or not header or not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance_s:
        return False
    want = signature(secret, int(timestamp), body)
    sent = [p.strip()[3:] for p in header.split(",") if p.strip().startswith("v1=")]
    return any(hmac.compare_digest(want, s) for s in sent)
